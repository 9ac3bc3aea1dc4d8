import { atTime, deadlineEnvironment, runDeadline, runMarginSeconds } from '../../cli/walltime-guard';

const now = Date.parse('2026-12-03T13:18:00Z');
const job = (walltimeSeconds: number | null, endsAt: string | null) => ({
  id: '12.gadi-pbs',
  project: null,
  queue: null,
  storage: null,
  walltime_seconds: walltimeSeconds,
  ends_at: endsAt,
  jobfs_request_bytes: null
});

test("run's margin before the end: 10% of the walltime, from 1 to 3 minutes; 3 where only the end is known", () => {
  expect(runMarginSeconds(300)).toBe(60);
  expect(runMarginSeconds(1200)).toBe(120);
  expect(runMarginSeconds(48 * 3600)).toBe(180);
  expect(runMarginSeconds(null)).toBe(180);
});

test('run retires at the end less the margin, and tells the command both times; nothing outside a job or without an end', () => {
  const deadline = runDeadline(job(3600, '2026-12-03T14:00:00.000Z'), now);
  expect(deadline).toEqual({
    jobId: '12.gadi-pbs',
    endsAt: '2026-12-03T14:00:00.000Z',
    retireAtMs: Date.parse('2026-12-03T13:57:00Z'),
    marginSeconds: 180
  });
  expect(deadlineEnvironment(deadline)).toEqual({
    DASK_HPC_JOB_ENDS_AT: '2026-12-03T14:00:00.000Z',
    DASK_HPC_RETIRE_AT: '2026-12-03T13:57:00.000Z'
  });
  for (const none of [null, undefined, job(3600, null), job(null, 'not a time')]) expect(runDeadline(none, now)).toBeNull();
  expect(deadlineEnvironment(null)).toEqual({});
});

test('atTime waits past the 24.8 days setTimeout can hold, and can be cancelled', () => {
  jest.useFakeTimers({ now });
  try {
    const fired: number[] = [];
    atTime(now + 30 * 86400_000, () => fired.push(Date.now()));
    const cancel = atTime(now + 1000, () => fired.push(-1));
    cancel();
    jest.advanceTimersByTime(29 * 86400_000);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(86400_000);
    expect(fired).toEqual([now + 30 * 86400_000]);
  } finally {
    jest.useRealTimers();
  }
});
