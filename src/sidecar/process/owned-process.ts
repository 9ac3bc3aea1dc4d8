/** How a process ended: an exit status or the signal that killed it. */
export interface Exit {
  code: number | null;
  signal: string | null;
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit status ${exit.code}`;
}

/** What a cluster needs of one of its processes (or batch jobs), whether it started or adopted it. */
export interface OwnedProcess {
  readonly pid: number | null;
  readonly hasExited: boolean;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  terminate(): Promise<unknown>;
  /** The last lines it printed, where known. */
  tail(): string;
}

/** A Dask process this owner started: its output line by line, its exit, its stdin. */
export interface StartedProcess extends OwnedProcess {
  readonly exited: Promise<Exit>;
  /** Calls `watcher` with every line printed from now on; returns a function that stops it. */
  onLine(watcher: (line: string) => void): () => void;
  /** Resolves with the first match of `pattern` in the output, or rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Writes a line to the process's stdin. */
  send(line: string): void;
}
