import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads the files that describe a node under a root directory ("/" on a real node, a
 * fixture tree in tests), so detection is a pure function of (environment, root).
 */
export class NodeFiles {
  constructor(readonly root: string = '/') {}

  /** The absolute path of a node file, e.g. "/proc/meminfo" under the root. */
  path(nodePath: string): string {
    return this.root === '/' ? nodePath : join(this.root, nodePath);
  }

  /** The file's text, or null when it does not exist or cannot be read. */
  read(nodePath: string): string | null {
    try {
      return readFileSync(this.path(nodePath), 'utf8');
    } catch {
      return null;
    }
  }
}
