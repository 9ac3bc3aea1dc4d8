import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether `command` is an executable on PATH, checked before anything is started. */
export function commandOnPath(command: string, env: Record<string, string | undefined>): boolean {
  return (env.PATH ?? '').split(delimiter).some(directory => {
    try {
      accessSync(join(directory || '.', command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
