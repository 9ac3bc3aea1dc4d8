import { WORKLOADS, type PlanRequest, type Thresholds, type Workload } from '../../common/protocol';
import { InputError } from '../errors';

type Body = Record<string, unknown>;

const PLAN_FIELDS = ['workload', 'max_workers', 'reserve_mem_gb', 'max_mem_gb', 'thresholds'];
const THRESHOLD_ORDER: (keyof Thresholds)[] = ['target', 'spill', 'pause', 'terminate'];

/** The default workload, as in seed 000's setup_dask_client. */
export const DEFAULT_WORKLOAD: Workload = 'io';

function isBody(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rejects any field not in `known`, naming it and the fields that are allowed. */
export function rejectUnknownFields(body: Body, known: string[]): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) {
      throw new InputError(key, `unknown field "${key}"; the fields are ${known.join(', ')}`);
    }
  }
}

function optionalNumber(body: Body, field: string, check: (n: number) => boolean, expected: string): number | null {
  const value = body[field];
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new InputError(field, `${field} must be ${expected}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function parseThresholds(value: unknown): Partial<Thresholds> | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!isBody(value)) {
    throw new InputError('thresholds', `thresholds must be an object like {"spill": 0.85}, not ${JSON.stringify(value)}`);
  }
  rejectUnknownFields(value, THRESHOLD_ORDER);
  const thresholds: Partial<Thresholds> = {};
  for (const key of THRESHOLD_ORDER) {
    const fraction = optionalNumber(value, key, n => n > 0 && n <= 1, 'a fraction of the memory limit in (0, 1]');
    if (fraction !== null) thresholds[key] = fraction;
  }
  return thresholds;
}

/** Thresholds must rise: target ≤ spill ≤ pause ≤ terminate. */
export function checkThresholdOrder(thresholds: Thresholds): void {
  for (let i = 1; i < THRESHOLD_ORDER.length; i++) {
    const [lower, higher] = [THRESHOLD_ORDER[i - 1], THRESHOLD_ORDER[i]];
    if (thresholds[lower] > thresholds[higher]) {
      throw new InputError(
        `thresholds.${higher}`,
        `thresholds must rise: ${lower}=${thresholds[lower]} is above ${higher}=${thresholds[higher]}`
      );
    }
  }
}

/**
 * A plan request from a JSON body or CLI flags, checked field by field: each wrong value is
 * an InputError naming the field. `extraFields` are other fields the caller handles itself.
 */
export function parsePlanRequest(value: unknown, extraFields: string[] = []): PlanRequest {
  if (!isBody(value)) {
    throw new InputError('body', `the request must be a JSON object, not ${JSON.stringify(value)}`);
  }
  rejectUnknownFields(value, [...PLAN_FIELDS, ...extraFields]);
  const workload = value.workload ?? DEFAULT_WORKLOAD;
  if (!WORKLOADS.includes(workload as Workload)) {
    throw new InputError('workload', `workload must be one of ${WORKLOADS.join(', ')}, not ${JSON.stringify(workload)}`);
  }
  return {
    workload: workload as Workload,
    max_workers: optionalNumber(value, 'max_workers', n => Number.isInteger(n) && n >= 1 && n <= 4096, 'a whole number from 1 to 4096'),
    reserve_mem_gb: optionalNumber(value, 'reserve_mem_gb', n => n >= 0, 'a number of GiB, 0 or more'),
    max_mem_gb: optionalNumber(value, 'max_mem_gb', n => n > 0, 'a number of GiB above 0'),
    thresholds: parseThresholds(value.thresholds)
  };
}
