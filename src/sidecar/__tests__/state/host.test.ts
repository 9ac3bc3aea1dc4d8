import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findClusterHere, recordsByHost } from '../../state/host-records';
import { bootTime, thisHost, whereabouts } from '../../state/host';
import { StateStore } from '../../state/state-store';

const here = { host: 'gadi-cpu-0001', boot_id: '6f1c1a56-0c4e-4d55-9c4a-1b5b2a3f0d11', machine_id: '3d1219c7c4c5404aaa1f6d2a48adfda4' };
const otherMachine = '0b8f5c1d2e3a4b5c6d7e8f9a0b1c2d3e';

const booted = Date.parse('2025-03-01T08:00:00Z');
const before = '2025-02-28T23:00:00.000Z';
const after = '2025-03-01T09:00:00.000Z';
const otherBoot = 'a4ba38f5-68ec-4601-ac74-40c0328ce948';

test('a record is here only with this hostname and this boot; an older boot is dead; another host is not judged', () => {
  expect(whereabouts({ ...here, created_at: after }, here, booted)).toBe('here');
  expect(whereabouts({ ...here, boot_id: otherBoot, created_at: before }, here, booted)).toBe('earlier-boot');
  // The same hostname, but another machine id, or none recorded (an older dask-hpc): maybe another machine, left alone.
  expect(whereabouts({ ...here, machine_id: otherMachine, boot_id: otherBoot, created_at: before }, here, booted)).toBe('elsewhere');
  expect(whereabouts({ ...here, machine_id: otherMachine, created_at: after }, here, booted)).toBe('elsewhere');
  expect(whereabouts({ host: here.host, boot_id: otherBoot, created_at: before }, here, booted)).toBe('elsewhere');
  // This boot, recorded before records carried a machine id: this node's.
  expect(whereabouts({ host: here.host, boot_id: here.boot_id, created_at: after }, here, booted)).toBe('here');
  expect(whereabouts({ host: 'gadi-cpu-0002', boot_id: here.boot_id, created_at: after }, here, booted)).toBe('elsewhere');
  expect(whereabouts({ host: 'gadi-cpu-0002', boot_id: otherBoot, created_at: before }, here, booted)).toBe('elsewhere');
  // Written by a dask-hpc that recorded no host: nobody can tell whose its pids are.
  expect(whereabouts({ created_at: before }, here, booted)).toBe('elsewhere');
  expect(whereabouts({ boot_id: here.boot_id, created_at: after }, here, booted)).toBe('elsewhere');
  // Another boot, yet written since this one began: another machine of the same name, not ours to sweep.
  expect(whereabouts({ ...here, boot_id: otherBoot, created_at: after }, here, booted)).toBe('elsewhere');
  expect(whereabouts({ ...here, boot_id: otherBoot }, here, booted)).toBe('elsewhere');
  expect(whereabouts({ ...here, boot_id: otherBoot, created_at: before }, here, null)).toBe('elsewhere');
});

test('this host is the hostname and the kernel boot id; it booted in the past', () => {
  const { host, boot_id, machine_id } = thisHost();
  expect(host).toBe(require('node:os').hostname());
  expect(boot_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(machine_id).toBe(readFileSync('/etc/machine-id', 'utf8').trim());
  expect(bootTime()).toBeLessThan(Date.now());
});

/** A state directory of fixture records, and a process of this node that none of them owns. */
function sharedStateDirectory() {
  const root = mkdtempSync(join(tmpdir(), 'hosts-'));
  const store = new StateStore(join(root, 'state'), join(root, 'run'));
  mkdirSync(store.runtimeDir, { recursive: true });
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  const record = (id: string, fields: Record<string, unknown>) => {
    mkdirSync(store.pathFor(id, '.tls'));
    mkdirSync(join(root, id));
    writeFileSync(store.socketFor(id, '.lifeline.sock'), '');
    const cluster = {
      id,
      name: `c-${id}`,
      status: 'running',
      workers: [],
      control_socket: null,
      local_directory: join(root, id),
      scheduler_file: join(root, id, 'scheduler.json'),
      python: '/usr/bin/python3',
      plan: { workload: 'cpu', n_workers: 1, threads_per_worker: 1, memory_limit_bytes: 2 ** 30, local_directory: root },
      created_at: `2024-01-01T00:00:0${id[7]}Z`,
      ...fields
    };
    writeFileSync(store.pathFor(id, '.json'), JSON.stringify(cluster));
  };
  const files = (id: string) =>
    [store.pathFor(id, '.json'), store.pathFor(id, '.tls'), store.socketFor(id, '.lifeline.sock'), join(root, id)].map(existsSync);
  return { store, bystander, record, files };
}

test('a command sees its own live records, sweeps its own dead and older-boot ones, and leaves other hosts alone', () => {
  const { store, bystander, record, files } = sharedStateDirectory();
  const live = bystander.pid as number;
  const gone = 2 ** 22 + 1; // above any pid_max: no process has it
  try {
    const me = thisHost();
    record('aaaa0001', { ...me, owner_pid: live, scheduler_pid: live });
    record('aaaa0002', { ...me, owner_pid: gone, scheduler_pid: gone });
    // Before this node's reboot: its pids now name whatever runs, e.g. the bystander.
    record('aaaa0003', { ...me, boot_id: '00000000-0000-0000-0000-000000000000', owner_pid: live, scheduler_pid: live });
    // Another node's, whose pids happen to be dead here, and one whose pid is alive here.
    record('aaaa0004', { host: 'other-node', boot_id: me.boot_id, owner_pid: gone, scheduler_pid: gone });
    record('aaaa0005', { host: 'other-node', boot_id: me.boot_id, owner_pid: live, scheduler_pid: live });
    record('aaaa0006', { owner_pid: gone, scheduler_pid: gone }); // no host recorded
    // Another boot, written since this one began: a machine of the same name; its pid is alive here.
    record('aaaa0007', {
      ...me,
      boot_id: '00000000-0000-0000-0000-000000000000',
      owner_pid: live,
      scheduler_pid: live,
      created_at: new Date().toISOString()
    });

    const { here, elsewhere } = recordsByHost(store);
    expect(here.map(c => c.id)).toEqual(['aaaa0001']);
    expect(elsewhere.map(c => c.id)).toEqual(['aaaa0004', 'aaaa0005', 'aaaa0006', 'aaaa0007']);
    expect(files('aaaa0001')).toEqual([true, true, true, true]);
    expect(files('aaaa0002')).toEqual([false, false, false, false]);
    expect(files('aaaa0003')).toEqual([false, false, false, false]);
    for (const id of ['aaaa0004', 'aaaa0005', 'aaaa0006', 'aaaa0007']) expect(files(id)).toEqual([true, true, true, true]);

    expect(findClusterHere(store, 'c-aaaa0001', 'down').id).toBe('aaaa0001');
    expect(() => findClusterHere(store, 'aaaa0005', 'down')).toThrow('cluster aaaa0005 runs on host other-node: run dask-hpc down there');
    expect(() => findClusterHere(store, 'c-aaaa0006', 'scale')).toThrow(
      'cluster aaaa0006 runs on an unknown host (recorded by an older dask-hpc): run dask-hpc scale there'
    );
    expect(() => findClusterHere(store, 'aaaa0007', 'down')).toThrow(
      `cluster aaaa0007 runs on host ${me.host} of another boot (00000000-0000-0000-0000-000000000000: another machine of the same name)`
    );
    expect(() => findClusterHere(store, 'aaaa0002', 'down')).toThrow('no cluster "aaaa0002"');
    expect(bystander.exitCode).toBeNull();
  } finally {
    bystander.kill();
  }
});
