import { dueWarning, secondsLeft, warningMessage } from '../common/session-end';

/** The job whose end is warned of: its id and detect's `ends_at`. */
export interface JobEnd {
  id: string;
  endsAt: string;
}

export interface NotifierOptions {
  /** The job as last read (resources.job), or null outside a job or where its end is unknown. */
  jobEnd: () => JobEnd | null;
  /** Shows one warning (JupyterLab's Notification in the lab). */
  notify: (message: string) => void;
  now?: () => number;
  /** Where the warnings shown are kept, so a reload or a second tab does not show them again. */
  storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
}

/**
 * The 15- and 5-minute warnings of the session's walltime, each once per job: on every check
 * (the model's refresh and a timer), the most urgent threshold reached that was not yet shown.
 */
export class SessionEndNotifier {
  private readonly now: () => number;
  private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null;

  constructor(private readonly options: NotifierOptions) {
    this.now = options.now ?? (() => Date.now()); // read late: the page clock may be replaced (tests)
    this.storage = options.storage === undefined ? safeLocalStorage() : options.storage;
  }

  check(): void {
    const job = this.options.jobEnd();
    if (!job) return;
    const key = `dask-hpc:session-end-warned:${job.id}:${job.endsAt}`;
    const shown = this.read(key);
    const left = secondsLeft(job.endsAt, this.now());
    const due = dueWarning(left, shown);
    if (!due || left === null) return;
    for (const minutes of due.covers) shown.add(minutes);
    this.write(key, shown);
    this.options.notify(warningMessage(left, job.endsAt));
  }

  /** What this page showed, and what any page of this browser stored. */
  private read(key: string): Set<number> {
    const shown = new Set(this.shownHere.get(key) ?? []);
    try {
      const stored: unknown = JSON.parse(this.storage?.getItem(key) ?? '[]');
      if (Array.isArray(stored)) for (const value of stored) if (typeof value === 'number') shown.add(value);
    } catch {
      // A value another version wrote: what this page showed still counts.
    }
    return shown;
  }

  private write(key: string, shown: Set<number>): void {
    try {
      this.storage?.setItem(key, JSON.stringify([...shown]));
    } catch {
      // Storage full or refused (private mode): shownHere still keeps it to once in this page.
    }
    this.shownHere.set(key, shown);
  }

  private readonly shownHere = new Map<string, Set<number>>();
}

function safeLocalStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
