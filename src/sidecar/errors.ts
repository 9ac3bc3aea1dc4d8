/** Bad input from a user: a flag, a request body, an environment variable. CLI exit 2, HTTP 400. */
export class InputError extends Error {
  constructor(
    /** The flag or field at fault, e.g. "max_workers". */
    readonly field: string,
    message: string
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** A cluster could not be started; everything it began has already been stopped. */
export class ClusterStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterStartError';
  }
}

/** A name or id that matches no cluster. HTTP 404. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

// Every character that ends a line somewhere (Python's splitlines counts \x85 and \u2028 too).
// eslint-disable-next-line no-control-regex -- these control characters are what it looks for
const LINE_BREAKS = /[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/g;

/** The one stderr line for an error: a line break inside a quoted value is escaped, not printed. */
export function errorLine(message: string): string {
  const escaped = message.replace(LINE_BREAKS, character => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `dask-hpc: ${escaped}\n`;
}
