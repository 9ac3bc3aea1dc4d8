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
