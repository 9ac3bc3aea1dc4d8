import { spawnSync } from 'node:child_process';
import type { Environment } from '../node/detect';
import { InputError } from '../errors';

/** Finds distributed without importing it (an import takes a second; this takes a few ms). */
const FIND_DISTRIBUTED = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('distributed') else 3)";
const NO_DISTRIBUTED = 3;

/**
 * Checks before anything starts that `python` (the --python flag's value) runs and has
 * Dask's distributed, so a wrong one is one clear line rather than a scheduler that never came.
 */
export function checkPython(python: string, env: Environment, flag = '--python'): void {
  const refuse = (what: string) => new InputError(flag, `${flag} ${python}: ${what}`);
  // Running it is the test: what stat or access(2) say can differ from what exec does.
  const result = spawnSync(python, ['-c', FIND_DISTRIBUTED], { env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT' ? (python.includes('/') ? 'does not exist' : 'is not on PATH') :
      code === 'EACCES' ? 'is not an executable file (or is in a directory you cannot enter)' :
      code === 'ETIMEDOUT' ? 'did not answer within 60 s' :
      `cannot be run (${code ?? result.error.message})`;
    throw refuse(`${what}; give the path of a Python that has dask[distributed]`);
  }
  if (result.status === NO_DISTRIBUTED) {
    throw refuse("has no module named 'distributed'; install dask[distributed] into it, or give a Python that has it");
  }
  if (result.status !== 0) {
    const last = (result.stderr ?? '').trim().split('\n').pop() ?? '';
    throw refuse(`is not a working Python (${result.signal ? `killed by ${result.signal}` : `exit status ${result.status}`}${last ? `: ${last}` : ''})`);
  }
}
