import type { AdaptiveRange } from '../../common/protocol';
import { InputError } from '../errors';
import { rejectUnknownFields } from './plan-request';

/** What a PATCH asks: a fixed number of units, an adaptive range of units, or adaptive off. */
export type ScaleAction = { units: number } | { adaptive: AdaptiveRange } | { stopAdaptive: true };

/** How a cluster counts: the units that give some workers, and the most units it can have. */
export interface ScaledCluster {
  unitsFor(workers: number): number;
  readonly maxUnits: number | null;
  readonly workersPerUnit: number;
  /** Workers on this node: throws at `overcommit` if that many do not fit the job (node/node-share.ts); null for worker jobs. */
  readonly checkFit: ((workers: number, field: string) => void) | null;
}

const MAX_WORKERS = 4096;

function count(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_WORKERS) {
    throw new InputError(field, `${field} must be a whole number from 0 to ${MAX_WORKERS}, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * PATCH: {"n_workers": N} or {"adaptive": {"minimum": a, "maximum": b}} or {"adaptive": null}, with
 * "overcommit": true to grow past what the job has left, as launch allows.
 */
export function checkScaleRequest(body: unknown, cluster: ScaledCluster): ScaleAction {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InputError('body', 'the request must be a JSON object like {"n_workers": 4}');
  }
  const request = body as Record<string, unknown>;
  rejectUnknownFields(request, ['n_workers', 'adaptive', 'overcommit']);
  const overcommit = request.overcommit ?? false;
  if (typeof overcommit !== 'boolean') {
    throw new InputError('overcommit', `overcommit must be true or false, not ${JSON.stringify(overcommit)}`);
  }
  if ('n_workers' in request === 'adaptive' in request) {
    throw new InputError('n_workers', 'give either n_workers or adaptive ({"minimum": a, "maximum": b}, or null to stop)');
  }
  // Jobs and nodes scale whole: enough of them for the workers asked for.
  const units = (field: string, workers: number) => {
    const needed = cluster.unitsFor(workers);
    if (cluster.maxUnits !== null && needed > cluster.maxUnits) {
      throw new InputError(
        field,
        `${field}=${workers} needs ${needed} nodes; this job has ${cluster.maxUnits} (${cluster.workersPerUnit} workers each)`
      );
    }
    if (!overcommit) cluster.checkFit?.(workers, field);
    return needed;
  };
  if ('n_workers' in request) return { units: units('n_workers', count('n_workers', request.n_workers)) };
  if (request.adaptive === null) return { stopAdaptive: true };
  const range = request.adaptive as Record<string, unknown>;
  if (typeof range !== 'object' || Array.isArray(range)) {
    throw new InputError('adaptive', 'adaptive must be {"minimum": a, "maximum": b} or null');
  }
  rejectUnknownFields(range, ['minimum', 'maximum']);
  const minimum = count('adaptive.minimum', range.minimum ?? 0);
  const maximum = count('adaptive.maximum', range.maximum);
  if (minimum > maximum) {
    throw new InputError('adaptive.minimum', `adaptive.minimum=${minimum} is above adaptive.maximum=${maximum}`);
  }
  return { adaptive: { minimum: units('adaptive.minimum', minimum), maximum: units('adaptive.maximum', maximum) } };
}
