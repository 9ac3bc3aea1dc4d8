import { request } from 'node:http';
import type { ClusterState } from '../../common/protocol';
import { InputError } from '../errors';
import { ownerRuns } from '../state/state-store';

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** One request to a dask-hpc API on a unix socket (another process's cluster, or the sidecar). */
export function callApi(socketPath: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ socketPath, method, path, headers: { 'Content-Type': 'application/json' } }, response => {
      const chunks: Buffer[] = [];
      response.on('data', chunk => chunks.push(chunk as Buffer));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        } catch {
          resolve({ status: response.statusCode ?? 0, body: text });
        }
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Sends a request to the process that owns the cluster; a 4xx answer is the user's error. */
export async function askOwner(cluster: ClusterState, method: string, body?: unknown): Promise<ClusterState | null> {
  if (!cluster.control_socket || !ownerRuns(cluster)) return null;
  try {
    const response = await callApi(cluster.control_socket, method, `/api/clusters/${cluster.id}`, body);
    const { message, field } = (response.body as { message?: string; field?: string } | null) ?? {};
    if (response.status === 400) throw new InputError(field ?? 'body', message ?? 'rejected');
    if (response.status >= 300) throw new Error(message ?? `HTTP ${response.status}`);
    return response.body as ClusterState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
