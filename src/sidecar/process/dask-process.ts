import { execa, type ResultPromise } from 'execa';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { descendants, killSurvivors } from './descendants';
import { ProcessLines } from './process-lines';
import type { Exit, StartedProcess } from './owned-process';

const TAIL_LINES = 30;
/** How long SIGTERM has before SIGKILL. */
const KILL_GRACE_MS = 5000;

export interface DaskProcessOptions {
  /** The Python whose `distributed` runs the process: one Python for client and workers (seed 002). */
  python: string;
  /** "scheduler" or "worker". */
  kind: 'scheduler' | 'worker';
  /** Arguments after `python -m distributed.cli.dask_<kind>`; never passed through a shell. */
  args: string[];
  /** Variables added to this process's environment. */
  env: Record<string, string>;
  /** Where stdout and stderr are kept, for the user and for error messages. */
  logFile: string;
  /** A command that runs the process on another node of the allocation (srun …, pbsdsh … --). */
  launcher?: string[];
}

/**
 * One `dask scheduler` or `dask worker` process: started with execa (no shell), its output
 * kept in a log file and a tail for errors, each line offered to `onLine` watchers, which is
 * how readiness is seen without polling.
 */
export class DaskProcess implements StartedProcess {
  readonly subprocess: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; buffer: false; reject: false }>;
  readonly exited: Promise<Exit>;
  private readonly tailLines: string[] = [];
  private readonly lines: ProcessLines;
  private readonly log: WriteStream;
  private exitInfo: Exit | null = null;

  constructor(readonly options: DaskProcessOptions) {
    this.log = createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
    // The log is a copy for the user; the tail in memory is what errors show. A cluster
    // stopped while starting removes the directory under an opening log: not worth a crash.
    this.log.on('error', () => undefined);
    const command = [...(options.launcher ?? []), options.python, '-m', `distributed.cli.dask_${options.kind}`, ...options.args];
    this.subprocess = execa(command[0], command.slice(1), {
      env: options.env,
      extendEnv: true,
      // stdin stays open and unused: it is the scheduler's lifeline to its owner (lifeline.py).
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      // Not killed when this process exits: an owner that leaves on purpose (SIGUSR2, the
      // server's stop_clusters_on_shutdown=False) or crashes leaves its clusters for the next
      // owner to adopt; the scheduler's lifeline ends them if none does within the grace.
      cleanup: false,
      forceKillAfterDelay: KILL_GRACE_MS
    });
    // A process that died early has no reader for our start signal: that is its exit's to report.
    this.subprocess.stdin.on('error', () => undefined);
    this.watchStream(this.subprocess.stdout);
    this.watchStream(this.subprocess.stderr);
    this.exited = this.subprocess.then(
      result => this.recordExit({ code: result.exitCode ?? null, signal: result.signal ?? null }),
      (error: { exitCode?: number; signal?: string }) => this.recordExit({ code: error.exitCode ?? null, signal: error.signal ?? null })
    );
    this.lines = new ProcessLines(this.exited);
  }

  get pid(): number | null {
    return this.subprocess.pid ?? null;
  }

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /** The last lines the process printed, for error messages. */
  tail(): string {
    return this.tailLines.join('\n');
  }

  /** Calls `watcher` with every line printed from now on; returns a function that stops it. */
  onLine(watcher: (line: string) => void): () => void {
    return this.lines.onLine(watcher);
  }

  /** Resolves with the first match of `pattern` in the output, or rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    return this.lines.waitFor(pattern);
  }

  /** Writes a line to the process's stdin (the scheduler's start signal, lifeline.py). */
  send(line: string): void {
    this.subprocess.stdin.write(line + '\n');
  }

  /**
   * SIGTERM, then SIGKILL after the grace period (execa's forceKillAfterDelay). The processes
   * it started (a `dask worker`'s nannies fork its workers) are noted first: one its nannies
   * could not close in time (wedged, or starved of CPU on a loaded node) outlives it, holds
   * its output pipes (`exited` waits for them) and keeps the scheduler, ended after, waiting.
   * Such survivors are killed as soon as it has gone.
   */
  terminate(): Promise<Exit> {
    if (!this.hasExited) {
      if (this.subprocess.exitCode === null && this.subprocess.signalCode === null) {
        const started = this.pid === null ? [] : descendants(this.pid);
        this.subprocess.once('exit', () => killSurvivors(started));
      }
      this.subprocess.kill('SIGTERM');
    }
    return this.exited;
  }

  private watchStream(stream: Readable): void {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', line => {
      this.log.write(line + '\n');
      this.tailLines.push(line);
      if (this.tailLines.length > TAIL_LINES) this.tailLines.shift();
      this.lines.emit(line);
    });
  }

  private recordExit(exit: Exit): Exit {
    this.exitInfo = exit;
    this.log.end();
    return exit;
  }
}
