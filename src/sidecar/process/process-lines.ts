import { describeExit, type Exit } from './owned-process';

/** A process's output lines offered to watchers, and the wait for a line that matches. */
export class ProcessLines {
  private readonly watchers = new Set<(line: string) => void>();

  constructor(private readonly exited: Promise<Exit>) {}

  /** Offers one printed line to every watcher. */
  emit(line: string): void {
    for (const watcher of [...this.watchers]) watcher(line);
  }

  /** Calls `watcher` with every line printed from now on; returns a function that stops it. */
  onLine(watcher: (line: string) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Resolves with the first match of `pattern` in the output, or rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const stop = this.onLine(line => {
        const match = pattern.exec(line);
        if (match) {
          stop();
          resolve(match);
        }
      });
      void this.exited.then(exit => {
        stop();
        reject(new Error(`exited (${describeExit(exit)}) before it printed ${pattern}`));
      });
    });
  }
}
