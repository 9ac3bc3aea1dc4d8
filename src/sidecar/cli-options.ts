import { InputError } from './errors';

/** Flags shared by plan, up and run: they become a plan request (the same fields as POST plan). */
export const PLAN_FLAGS = {
  workload: { type: 'string' },
  'max-workers': { type: 'string' },
  'reserve-mem-gb': { type: 'string' },
  'max-mem-gb': { type: 'string' },
  'memory-target': { type: 'string' },
  'memory-spill': { type: 'string' },
  'memory-pause': { type: 'string' },
  'memory-terminate': { type: 'string' },
  root: { type: 'string' },
  json: { type: 'boolean' }
} as const;

export type FlagValues = Record<string, string | boolean | undefined>;

/** A flag's number, or an InputError naming the flag: "--max-workers takes a number, not 'many'". */
export function numberFlag(values: FlagValues, flag: string): number | undefined {
  const text = values[flag];
  if (text === undefined) return undefined;
  const value = typeof text === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) {
    throw new InputError(`--${flag}`, `--${flag} takes a number, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** The plan request body that the flags describe; its checks are the API's (parsePlanRequest). */
export function planBodyFromFlags(values: FlagValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.workload !== undefined) body.workload = values.workload;
  const fields: [string, string][] = [
    ['max-workers', 'max_workers'],
    ['reserve-mem-gb', 'reserve_mem_gb'],
    ['max-mem-gb', 'max_mem_gb']
  ];
  for (const [flag, field] of fields) {
    const value = numberFlag(values, flag);
    if (value !== undefined) body[field] = value;
  }
  const thresholds: Record<string, number> = {};
  for (const key of ['target', 'spill', 'pause', 'terminate']) {
    const value = numberFlag(values, `memory-${key}`);
    if (value !== undefined) thresholds[key] = value;
  }
  if (Object.keys(thresholds).length > 0) body.thresholds = thresholds;
  return body;
}

/** Rewrites an InputError about a body field into one about the flag the user typed. */
export function asFlagError(error: InputError): InputError {
  const flag = '--' + error.field.replace(/^thresholds\./, 'memory-').replace(/_/g, '-');
  const message = error.message
    .replace(/\b(max_workers|reserve_mem_gb|max_mem_gb|workload|name)\b/g, name => '--' + name.replace(/_/g, '-'))
    .replace(/\b(target|spill|pause|terminate)=/g, '--memory-$1=')
    .replace(/^thresholds must rise/, 'memory thresholds must rise');
  return new InputError(flag, message);
}
