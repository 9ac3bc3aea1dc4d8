import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordProblem } from '../../state/cluster-record';
import { StateStore } from '../../state/state-store';

const id = 'abcd0123';
const good = {
  id,
  name: 'c',
  status: 'running',
  scheduler_address: 'tls://127.0.0.1:1',
  scheduler_file: '/tmp/x/scheduler.json',
  dashboard_url: null,
  local_directory: '/tmp/x',
  workers: [{ name: 'c-0', status: 'running', pid: 12, start_time: 34, restarts: 0 }],
  plan: { workload: 'cpu', n_workers: 1, threads_per_worker: 1, memory_limit_bytes: 1024, local_directory: '/tmp' },
  adaptive: null,
  python: '/usr/bin/python3',
  host: 'n1',
  boot_id: 'b',
  machine_id: 'm',
  owner_pid: 10,
  owner_start_time: 5,
  scheduler_pid: 11,
  scheduler_start_time: 6,
  control_socket: '/run/s.sock',
  created_at: '2026-01-01T00:00:00.000Z'
};

test('a whole record passes, and so does one of an older dask-hpc without host, boot, machine or start times', () => {
  expect(recordProblem(good, id)).toBeNull();
  const { host, boot_id, machine_id, owner_start_time, scheduler_start_time, ...older } = good;
  expect(recordProblem({ ...older, workers: [{ name: 'c-0', status: 'running', pid: 12, restarts: 0 }] }, id)).toBeNull();
  expect([host, boot_id, machine_id, owner_start_time, scheduler_start_time]).toHaveLength(5);
});

test('JSON of another shape is named for what is wrong with it', () => {
  expect(recordProblem('x', id)).toBe('it holds "x", not a cluster record (a JSON object)');
  expect(recordProblem([], id)).toBe('it holds a list, not a cluster record (a JSON object)');
  expect(recordProblem(null, id)).toBe('it holds null, not a cluster record (a JSON object)');
  expect(recordProblem({ created_at: 5 }, id)).toBe('its "id" is missing, not "abcd0123" as its file name says');
  expect(recordProblem({ ...good, id: 'ffff0000' }, id)).toBe('its "id" is "ffff0000", not "abcd0123" as its file name says');
  expect(recordProblem({ ...good, created_at: 5 }, id)).toBe('its "created_at" is 5, not a string');
  expect(recordProblem({ ...good, created_at: 'yesterday' }, id)).toBe('its "created_at" is "yesterday", not a date');
  expect(recordProblem({ ...good, status: 'dancing' }, id)).toMatch(/^its "status" is "dancing", not one of starting, running/);
  expect(recordProblem({ ...good, owner_pid: '10' }, id)).toBe('its "owner_pid" is "10", not a process id');
  expect(recordProblem({ ...good, owner_pid: -1 }, id)).toBe('its "owner_pid" is -1, not a process id');
  expect(recordProblem({ ...good, scheduler_pid: 1.5 }, id)).toBe('its "scheduler_pid" is 1.5, not a process id or null');
  expect(recordProblem({ ...good, scheduler_start_time: 'now' }, id)).toBe('its "scheduler_start_time" is "now", not a start time or null');
  expect(recordProblem({ ...good, host: 7 }, id)).toBe('its "host" is 7, not a string');
  expect(recordProblem({ ...good, workers: {} }, id)).toBe('its "workers" is {}, not a list');
  expect(recordProblem({ ...good, workers: [7] }, id)).toBe('its workers[0] is 7, not an object');
  expect(recordProblem({ ...good, workers: [{ ...good.workers[0], pid: 'x' }] }, id)).toBe(
    'its workers[0] has "pid" "x", not a process id or null'
  );
  expect(recordProblem({ ...good, plan: null }, id)).toBe('its "plan" is null, not an object');
  expect(recordProblem({ ...good, plan: { n_workers: 'all' } }, id)).toBe('its plan\'s "n_workers" is "all", not a number');
  expect(recordProblem({ ...good, plan: { ...good.plan, local_directory: null } }, id)).toBe(
    'its plan\'s "local_directory" is null, not a string'
  );
  expect(recordProblem({ ...good, runner: { nodes: 'n1' } }, id)).toBe('its runner\'s "nodes" is "n1", not a list');
});

test('the store skips a bad file with one warning naming it, leaves it, and lists the good ones', () => {
  const root = mkdtempSync(join(tmpdir(), 'records-'));
  const store = new StateStore(join(root, 'state'), join(root, 'run'));
  writeFileSync(store.pathFor(id, '.json'), JSON.stringify(good));
  const bad = { aaaa0001: '{"created_at": 5}', aaaa0002: '"x"', aaaa0003: '[]', aaaa0004: '{"id": "aaaa0004"', aaaa0005: '' };
  for (const [badId, text] of Object.entries(bad)) writeFileSync(store.pathFor(badId, '.json'), text);
  const warnings: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(line => warnings.push(String(line)) > 0);
  try {
    expect(store.list().map(c => c.id)).toEqual([id]);
    expect(store.list().map(c => c.id)).toEqual([id]); // read again: no second warning
  } finally {
    write.mockRestore();
  }
  expect(warnings).toHaveLength(5);
  for (const badId of Object.keys(bad)) {
    expect(warnings.filter(line => line.startsWith(`dask-hpc: warning: skipped ${store.pathFor(badId, '.json')}: `))).toHaveLength(1);
  }
  expect(warnings[0]).toContain('its "id" is missing');
  expect(readdirSync(store.dir).sort()).toEqual([...Object.keys(bad), id].map(name => `${name}.json`).sort());
  // An older record is read with its unknown start times as null.
  expect(store.load(id)?.workers[0].start_time).toBe(34);
});
