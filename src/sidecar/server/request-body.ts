import type { IncomingMessage } from 'node:http';
import { MIMEType } from 'node:util';
import { InputError } from '../errors';

/** The largest body the API reads (docs/openapi.yaml; the Jupyter relay refuses the same). */
export const MAX_BODY_BYTES = 64 * 1024;
/** Deeper than any request the API describes; a deeper one is refused before it is walked. */
export const MAX_BODY_DEPTH = 32;

/** An answer that is neither the engine's nor a route's: 413, 415, 404. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

const tooLarge = () => new HttpError(413, `the request body is over the limit of ${MAX_BODY_BYTES} bytes (64 KiB)`);

function carriesBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function mediaType(header: string | undefined): string | null {
  try {
    return header ? new MIMEType(header).essence : null;
  } catch {
    return null;
  }
}

/**
 * Refuses, before a byte of it is read, a body that is not declared JSON (a page on another
 * site can make a browser send a form or a text/plain fetch, never application/json) or that
 * declares itself over the limit.
 */
export function checkBodyHeaders(request: IncomingMessage): void {
  if (!carriesBody(request)) return;
  const type = request.headers['content-type'];
  if (mediaType(type) !== 'application/json') {
    throw new HttpError(
      415,
      `the request body must be JSON sent as Content-Type: application/json, not ${type ? JSON.stringify(type) : 'without a Content-Type'}`
    );
  }
  if (Number(request.headers['content-length']) > MAX_BODY_BYTES) throw tooLarge();
}

function nestedDeeperThan(value: unknown, limit: number): boolean {
  // Walked with a stack of its own: a recursive walk is what overflows on a deep body.
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * The body as JSON ({} when empty). A chunked body that grows over the limit is read to its
 * end but not kept: the answer then comes after the client has sent it all (see answer()).
 */
export async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES) throw tooLarge();
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InputError('body', 'the request body is not valid JSON');
  }
  if (nestedDeeperThan(body, MAX_BODY_DEPTH)) {
    throw new InputError('body', `the request body is nested deeper than ${MAX_BODY_DEPTH} levels`);
  }
  return body;
}
