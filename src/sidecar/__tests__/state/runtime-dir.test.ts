import { chmodSync, chownSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
