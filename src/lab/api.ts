import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An answer of the dask-hpc API that was not a success: its message is meant for the user. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The request field at fault, for a 400. */
    readonly field: string | null
  ) {
    super(message);
  }
}

/** The one request helper: `{base_url}dask-hpc/api/<path>`, with Jupyter's authentication. */
export async function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'dask-hpc', 'api', path);
  // fetch labels a string body text/plain, which the API refuses (a cross-site form can send
  // text/plain): every body here is JSON and says so.
  const headers = new Headers(init.headers);
  if (init.body !== undefined && init.body !== null) headers.set('Content-Type', 'application/json');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { ...init, headers }, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, body?.message ?? response.statusText, body?.field ?? null);
  }
  return body as T;
}

/** The events WebSocket's URL, with the token when the page has one. */
export function eventsUrl(): string {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.wsUrl, 'dask-hpc', 'api', 'events');
  return settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}
