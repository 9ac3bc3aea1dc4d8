import type { Environment } from '../node/detect';
import { InputError } from '../errors';
import { CommandError, run } from '../process/run';

/** Finds distributed without importing it (an import takes a second; this takes a few ms). */
const FIND_DISTRIBUTED = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('distributed') else 3)";
const NO_DISTRIBUTED = 3;

/**
 * Checks before anything starts that `python` (the --python flag's value) runs and has
 * Dask's distributed, so a wrong one is one clear line rather than a scheduler that never came.
 */
export async function checkPython(python: string, env: Environment, flag = '--python'): Promise<void> {
  const refuse = (what: string) => new InputError(flag, `${flag} ${python}: ${what}`);
  let result;
  try {
    // Running it is the test: what stat or access(2) say can differ from what exec does.
    result = await run([python, '-c', FIND_DISTRIBUTED], { env: env as Record<string, string> });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const { code } = error;
    const what =
      code === 'ENOENT'
        ? python.includes('/')
          ? 'does not exist'
          : 'is not on PATH'
        : code === 'EACCES'
          ? 'is not an executable file (or is in a directory you cannot enter)'
          : code === 'ETIMEDOUT'
            ? 'did not answer within 60 s'
            : `cannot be run (${code ?? error.message})`;
    throw refuse(`${what}; give the path of a Python that has dask[distributed]`);
  }
  if (result.exitCode === NO_DISTRIBUTED) {
    throw refuse("has no module named 'distributed'; install dask[distributed] into it, or give a Python that has it");
  }
  if (result.exitCode !== 0) {
    const last = result.stderr.trim().split('\n').pop() ?? '';
    throw refuse(
      `is not a working Python (${result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`}${last ? `: ${last}` : ''})`
    );
  }
}
