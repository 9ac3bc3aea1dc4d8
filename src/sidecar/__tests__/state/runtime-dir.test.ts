import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_RUNTIME_DIR_BYTES, runtimeDir } from '../../state/runtime-dir';

const mode = (path: string) => statSync(path).mode & 0o777;
const fresh = () => mkdtempSync(join(tmpdir(), 'rt-'));
const uid = process.getuid?.() ?? 0;

test('$DASK_HPC_RUNTIME_DIR is made private; a looser one of ours is closed', () => {
  const dir = join(fresh(), 'a', 'b');
  expect(runtimeDir({ DASK_HPC_RUNTIME_DIR: dir })).toBe(dir);
  expect(mode(dir)).toBe(0o700);
  chmodSync(dir, 0o755);
  runtimeDir({ DASK_HPC_RUNTIME_DIR: dir });
  expect(mode(dir)).toBe(0o700);
});

test('a runtime directory others can write, a link, a file or a path too long for a socket is refused by name', () => {
  const open = join(fresh(), 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: open })).toThrow(
    `cannot use the runtime directory ${open}: other users can write to it (mode 0777)`
  );
  const link = join(fresh(), 'link');
  symlinkSync(fresh(), link);
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: link })).toThrow(`cannot use the runtime directory ${link}: it is a symbolic link`);
  const file = join(fresh(), 'file');
  writeFileSync(file, '');
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: file })).toThrow('is not a directory');
  const long = join(fresh(), 'x'.repeat(MAX_RUNTIME_DIR_BYTES));
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: long })).toThrow('is too long for unix socket paths');
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: 'relative/dir' })).toThrow('is not an absolute path');
});

test("a runtime directory under /proc is refused at once (Node's recursive mkdir never returns there)", () => {
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: '/proc/nope/dask-hpc' })).toThrow(
    'cannot make the runtime directory /proc/nope/dask-hpc'
  );
});

(uid === 0 ? test : test.skip)("another user's directory is refused, never used", () => {
  const theirs = join(fresh(), 'theirs');
  mkdirSync(theirs, { mode: 0o700 });
  chownSync(theirs, 4242, 4242);
  expect(() => runtimeDir({ DASK_HPC_RUNTIME_DIR: theirs })).toThrow(
    `cannot use the runtime directory ${theirs}: it belongs to uid 4242, not to you (uid 0)`
  );
});

test('$XDG_RUNTIME_DIR/dask-hpc when it is ours and private, else /tmp/dask-hpc-<uid>-runtime', () => {
  const xdg = fresh();
  chmodSync(xdg, 0o700);
  expect(runtimeDir({ XDG_RUNTIME_DIR: xdg })).toBe(join(xdg, 'dask-hpc'));
  expect(mode(join(xdg, 'dask-hpc'))).toBe(0o700);
  const fallback = `/tmp/dask-hpc-${uid}-runtime`;
  chmodSync(xdg, 0o755); // not private: not the login manager's
  expect(runtimeDir({ XDG_RUNTIME_DIR: xdg })).toBe(fallback);
  expect(runtimeDir({ XDG_RUNTIME_DIR: '/run/user/nonexistent-here' })).toBe(fallback); // inherited from a login node
  expect(runtimeDir({})).toBe(fallback);
  expect(mode(fallback)).toBe(0o700);
});

test('a /tmp/dask-hpc-<uid>-runtime that another user made first blocks nothing: a private tagged one is used, and kept', () => {
  const tmp = fresh();
  chmodSync(tmp, 0o1777);
  const squatted = join(tmp, `dask-hpc-${uid}-runtime`);
  mkdirSync(squatted, { mode: 0o755 });
  if (uid === 0) chownSync(squatted, 65534, 65534);
  else chmodSync(squatted, 0o777); // not root: a directory others can write stands in for another user's
  const env = { DASK_HPC_STATE_DIR: join(fresh(), 'state') };
  const warnings: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(line => warnings.push(String(line)) > 0);
  let first: string;
  let again: string;
  try {
    first = runtimeDir(env, tmp);
    again = runtimeDir(env, tmp);
  } finally {
    write.mockRestore();
  }
  expect(first).toMatch(new RegExp(`^${tmp}/dask-hpc-${uid}-[0-9a-f]{24}$`));
  expect(again).toBe(first);
  expect(statSync(first).uid).toBe(uid);
  expect(mode(first)).toBe(0o700);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`cannot use the runtime directory ${squatted}`);
  expect(warnings[0]).toContain(`using ${first} instead`);
  // Nothing was made in, or changed of, the squatted directory.
  expect(readdirSync(squatted)).toEqual([]);
  expect(mode(squatted)).toBe(uid === 0 ? 0o755 : 0o777);
  // The kept one taken over (here: opened to others) is never used again: a new tag.
  chmodSync(first, 0o777);
  const replaced = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const next = runtimeDir(env, tmp);
    expect(next).not.toBe(first);
    expect(mode(next)).toBe(0o700);
    // A kept name that is not one of ours (an edited or emptied file) is replaced, not followed.
    for (const text of ['', '/etc\n']) {
      writeFileSync(join(env.DASK_HPC_STATE_DIR, `runtime-dir.${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}`), text);
      const made = runtimeDir(env, tmp);
      expect(made).toMatch(new RegExp(`^${tmp}/dask-hpc-${uid}-[0-9a-f]{24}$`));
      expect(runtimeDir(env, tmp)).toBe(made);
    }
  } finally {
    replaced.mockRestore();
  }
});
