import { execa } from 'execa';

/** How a finished command ended and what it printed. */
export interface CommandResult {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * A command that could not be run, or (from requireSuccess) that failed: the message names
 * the command and what it said; the fields carry everything (as dask-jobqueue's Job._call and execa do).
 */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: CommandResult,
    /** Why it could not be run at all: ENOENT, EACCES, ETIMEDOUT; null if it ran. */
    readonly code: string | null = null
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  cwd?: string;
  /** The whole environment of the command (nothing inherited besides). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs a command (argv, never a shell line) to its end; rejects only if it could not be run or timed out. */
export async function run(argv: string[], options: RunOptions = {}): Promise<CommandResult> {
  const { cwd, env, timeoutMs = 60_000 } = options;
  const result = await execa(argv[0], argv.slice(1), { reject: false, cwd, timeout: timeoutMs, ...(env ? { env, extendEnv: false } : {}) });
  const outcome: CommandResult = {
    argv,
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? '')
  };
  if (result.timedOut) throw new CommandError(`${argv[0]} did not finish within ${timeoutMs / 1000} s`, outcome, 'ETIMEDOUT');
  if (result.failed && result.exitCode === undefined && !result.signal) {
    const code = (result as { code?: string }).code ?? null;
    throw new CommandError(`cannot run ${argv[0]}: ${result.shortMessage}`, outcome, code);
  }
  return outcome;
}

/** The result of a command that succeeded, or a CommandError with its argv, exit status and output. */
export function requireSuccess(result: CommandResult): CommandResult {
  if (result.exitCode === 0) return result;
  const status = result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`;
  const said = result.stderr.trim() || result.stdout.trim();
  throw new CommandError(`${result.argv.join(' ')} failed (${status})${said ? `: ${said}` : ''}`, result);
}
