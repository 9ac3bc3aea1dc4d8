import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors';
import { commandPath } from '../node/command-path';
import { describeFileError } from '../state/private-directory';

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** A flag's number, or an InputError naming the flag: "--max-workers takes a number, not 'many'". */
export function numberFlag(values: FlagValues, flag: string): number | undefined {
  const text = values[flag];
  if (text === undefined) return undefined;
  const value = typeof text === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) {
    throw new InputError(`--${flag}`, `--${flag} takes a number, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** --root: a directory holding a node's /proc and /sys (a fixture tree); checked, or node files would silently read as missing. */
export function rootFlag(values: FlagValues): string | undefined {
  const root = values.root as string | undefined;
  if (root === undefined) return undefined;
  try {
    if (!statSync(root).isDirectory()) {
      throw new InputError('--root', `--root ${root} is not a directory; give a directory holding a node's proc/ and sys/`);
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError('--root', `--root: ${describeFileError(root, error)}; give a directory holding a node's proc/ and sys/`);
  }
  return root;
}

/** The flags every owner of clusters takes: --root, --python, --timeout, --adoption-grace. */
export function ownerFlags(values: FlagValues) {
  const timeout = numberFlag(values, 'timeout') ?? 120;
  const grace = numberFlag(values, 'adoption-grace') ?? 10;
  if (timeout <= 0) throw new InputError('--timeout', `--timeout takes seconds above 0, not ${timeout}`);
  if (grace < 0 || grace > 25) throw new InputError('--adoption-grace', `--adoption-grace takes 0 to 25 seconds, not ${grace}`);
  return {
    root: rootFlag(values),
    // A path is made absolute so the record means the same Python to every later process.
    python: pythonFlag(values.python as string | undefined),
    adoptionGraceSeconds: grace,
    readyTimeoutMs: timeout * 1000
  };
}

/**
 * The Python as an absolute path, found on PATH here: it is handed to other hosts (pbsdsh,
 * srun, job scripts), whose own PATH would find another one (/bin/python3 without distributed).
 * One that is not found is left as typed, for checkPython to refuse with the reason.
 */
export function pythonFlag(python: string | undefined, env: Record<string, string | undefined> = process.env): string {
  if (python === undefined) return commandPath('python3', env) ?? 'python3';
  if (python.trim() === '') throw new InputError('--python', '--python takes a Python executable, not an empty string');
  return python.includes('/') ? resolve(python) : (commandPath(python, env) ?? python);
}

/** --base-url: Jupyter's base URL, a path. */
export function baseUrlFlag(baseUrl: string | undefined): string | null {
  if (baseUrl !== undefined && !baseUrl.startsWith('/')) {
    throw new InputError('--base-url', `--base-url is a path starting with "/", not ${JSON.stringify(baseUrl)}`);
  }
  return baseUrl ?? null;
}

/** Unix socket paths are limited to 107 bytes on Linux (sun_path), and their directory must take a new entry. */
const MAX_SOCKET_PATH_BYTES = 107;

export function checkSocketFlag(socket: string): void {
  const refuse = (what: string) =>
    new InputError(
      '--socket',
      `--socket ${socket}: ${what}; give a path in a directory of your own, such as $XDG_RUNTIME_DIR/dask-hpc.sock`
    );
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) throw refuse(`a unix socket path has at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  const directory = dirname(resolve(socket));
  try {
    if (!statSync(directory).isDirectory()) throw refuse(`${directory} is not a directory`);
    accessSync(directory, constants.W_OK | constants.X_OK);
    const existing = lstatSync(socket, { throwIfNoEntry: false });
    // A socket left by a killed sidecar is replaced; anything else there is the user's file.
    if (existing && !existing.isSocket()) throw refuse('it exists and is not a socket; dask-hpc would replace it');
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw refuse(describeFileError(directory, error));
  }
}
