import { accessSync, constants } from 'node:fs';
import { delimiter, resolve } from 'node:path';

/** Whether `command` is an executable on PATH, checked before anything is started. */
export function commandOnPath(command: string, env: Record<string, string | undefined>): boolean {
  return commandPath(command, env) !== null;
}

/**
 * The absolute path PATH gives `command` here, as a shell would find it; null if none. Not
 * followed through symlinks: a venv's python is a link whose target has none of the venv.
 */
export function commandPath(command: string, env: Record<string, string | undefined>): string | null {
  for (const directory of (env.PATH ?? '').split(delimiter)) {
    const candidate = resolve(directory || '.', command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}
