import { spawn } from 'node:child_process';
import { mayBeSignalled, recordedProcessRuns, startTimeOf, thisProcess } from '../../process/process-identity';
import { terminateRecorded } from '../../process/terminate';

const exited = (child: ReturnType<typeof spawn>) => new Promise(resolve => child.once('exit', resolve));

test('a process is known by its pid and its start time, read from /proc', () => {
  const me = thisProcess();
  expect(me.pid).toBe(process.pid);
  expect(Number.isInteger(me.startTime)).toBe(true);
  expect(recordedProcessRuns(me)).toBe(true);
  expect(mayBeSignalled(me)).toBe(true);
  expect(startTimeOf(2 ** 22 + 1)).toBeNull();
  expect(startTimeOf(null)).toBeNull();
});

test('a pid whose start time differs (reused) is gone and is never signalled', async () => {
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const pid = bystander.pid as number;
    const startTime = startTimeOf(pid) as number;
    expect(recordedProcessRuns({ pid, startTime })).toBe(true);
    const reused = { pid, startTime: startTime - 1 };
    expect(recordedProcessRuns(reused)).toBe(false);
    expect(mayBeSignalled(reused)).toBe(false);
    await terminateRecorded([reused], 200);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    // Recorded by an older dask-hpc (no start time): judged by pid and owner, but not signalled.
    expect(recordedProcessRuns({ pid, startTime: null })).toBe(true);
    expect(mayBeSignalled({ pid, startTime: null })).toBe(false);
    await terminateRecorded([{ pid, startTime: null }], 200);
    expect(bystander.signalCode).toBeNull();
    // The recorded process itself is ended.
    const gone = exited(bystander);
    await terminateRecorded([{ pid, startTime }], 2000);
    await gone;
    expect(bystander.signalCode).toBe('SIGTERM');
  } finally {
    bystander.kill('SIGKILL');
  }
});

test("another user's process at the pid (EPERM to signal 0, or root's might) and a zombie are not ours: gone", async () => {
  // As root, a process of nobody's; as anyone else, init (root's).
  const other = process.getuid?.() === 0 ? spawn('sleep', ['60'], { stdio: 'ignore', uid: 65534, gid: 65534 }) : null;
  try {
    const pid = other?.pid ?? 1;
    expect(startTimeOf(pid)).not.toBeNull();
    expect(recordedProcessRuns({ pid, startTime: startTimeOf(pid) })).toBe(false);
    expect(mayBeSignalled({ pid, startTime: startTimeOf(pid) })).toBe(false);
  } finally {
    other?.kill('SIGKILL');
  }
  const child = spawn('true', { stdio: 'ignore' });
  const pid = child.pid as number;
  const startTime = startTimeOf(pid);
  // Not reaped until the exit event: wait for /proc to say Z.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && recordedProcessRuns({ pid, startTime })) await new Promise(r => setTimeout(r, 20));
  expect(recordedProcessRuns({ pid, startTime })).toBe(false);
});
