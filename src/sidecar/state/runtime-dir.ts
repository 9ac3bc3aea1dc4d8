import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Environment } from '../node/detect';
import { InputError } from '../errors';
import { judgePrivateDirectory, makeDirectories, openOwnDirectory } from './private-directory';
import { defaultStateDir } from './state-dir';

/**
 * The longest socket name made in the runtime directory: "<8-hex id>.lifeline.sock",
 * "owner-<pid up to 7 digits>.sock", "sidecar-<port>.sock".
 */
const LONGEST_SOCKET_NAME = 22;
/** A unix socket's path is at most 107 bytes (108 with its NUL, Linux's sun_path). */
const SOCKET_PATH_LIMIT = 107;
export const MAX_RUNTIME_DIR_BYTES = SOCKET_PATH_LIMIT - 1 - LONGEST_SOCKET_NAME;

/**
 * Where this node's sockets (the sidecar's, owners' control sockets, schedulers' lifelines) are
 * made: never in the state directory, which other nodes may share (a socket there is reached
 * by another node's processes or removed by them). The rule, which jupyterlab_dask_hpc asks
 * for through `dask-hpc paths`:
 * 1. $DASK_HPC_RUNTIME_DIR, if set (an unusable one is an error);
 * 2. $XDG_RUNTIME_DIR/dask-hpc, if $XDG_RUNTIME_DIR is the user's own private directory
 *    (per node, made by the login manager) and short enough for socket paths;
 * 3. /tmp/dask-hpc-<uid>-runtime: /tmp is the node's own, but every user's, so the directory
 *    must be ours, a real directory (not a link) and closed to group and others;
 * 4. if another user made that one first (or it is otherwise unusable): /tmp/dask-hpc-<uid>-<tag>,
 *    with a random tag nobody can guess, kept for this host in the state directory
 *    (runtime-dir.<host>) so that every dask-hpc process of this node finds the same one.
 */
export function runtimeDir(env: Environment, sharedTmp = '/tmp'): string {
  if (env.DASK_HPC_RUNTIME_DIR) return privateDirectory(env.DASK_HPC_RUNTIME_DIR, true);
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/') && isPrivate(xdg) && Buffer.byteLength(join(xdg, 'dask-hpc')) <= MAX_RUNTIME_DIR_BYTES) {
    try {
      return privateDirectory(join(xdg, 'dask-hpc'), false);
    } catch {
      // something else is in the way there: /tmp serves as well
    }
  }
  const standard = join(sharedTmp, `dask-hpc-${process.getuid?.() ?? 0}-runtime`);
  try {
    return privateDirectory(standard, false);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return taggedRuntimeDir(env, sharedTmp, error.message);
  }
}

/**
 * The fallback when /tmp/dask-hpc-<uid>-runtime cannot be used: someone else may have made it
 * (it then blocks nothing and is never entered). The tagged directory's name is kept in the
 * state directory (0700, the user's alone); one found missing is made again, one found taken
 * (not ours, a link, open to others) is replaced by a new tag.
 */
function taggedRuntimeDir(env: Environment, sharedTmp: string, why: string): string {
  const stateDir = defaultStateDir(env);
  openOwnDirectory(stateDir, 'set DASK_HPC_STATE_DIR to a directory of your own');
  const file = join(stateDir, `runtime-dir.${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}`);
  let kept: string | null = null;
  try {
    kept = readFileSync(file, 'utf8').trim();
  } catch {
    // none yet
  }
  const prefix = join(sharedTmp, `dask-hpc-${process.getuid?.() ?? 0}-`);
  if (kept !== null && kept.startsWith(prefix) && /^[0-9a-f]{24}$/.test(kept.slice(prefix.length))) {
    try {
      return privateDirectory(kept, false);
    } catch {
      // taken since: a new tag below
    }
  }
  const fresh = `${prefix}${randomBytes(12).toString('hex')}`;
  privateDirectory(fresh, false);
  if (kept === null) {
    try {
      // The first to write it wins: a sidecar and a `dask-hpc paths` starting at once agree.
      writeFileSync(file, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      rmdirSync(fresh);
      return taggedRuntimeDir(env, sharedTmp, why);
    }
  } else {
    writeFileSync(`${file}.${process.pid}.tmp`, `${fresh}\n`, { mode: 0o600 });
    renameSync(`${file}.${process.pid}.tmp`, file);
  }
  process.stderr.write(`dask-hpc: warning: ${why.replace(/; .*$/, '')}; using ${fresh} instead (kept in ${file})\n`);
  return fresh;
}

/**
 * Makes (0700) or checks a directory only this user can enter; an unsafe one is an error naming
 * it. `chosen`: the user named it ($DASK_HPC_RUNTIME_DIR), so its parents are made too.
 */
function privateDirectory(path: string, chosen: boolean): string {
  const variable = 'DASK_HPC_RUNTIME_DIR';
  const instead = `set ${variable} to a directory of your own (mode 0700) on this node's local disk`;
  const fix = chosen ? instead : `remove it if it is yours, or ${instead}`;
  if (!path.startsWith('/')) throw new InputError(variable, `${variable}=${JSON.stringify(path)} is not an absolute path`);
  if (Buffer.byteLength(path) > MAX_RUNTIME_DIR_BYTES) {
    throw new InputError(
      variable,
      `${path} is too long for unix socket paths (${Buffer.byteLength(path)} bytes; at most ${MAX_RUNTIME_DIR_BYTES}): set ${variable} to a shorter path`
    );
  }
  try {
    // Node's recursive mkdir never returns under /proc: makeDirectories stops.
    if (chosen) makeDirectories(path, 0o700);
    else mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new InputError(variable, `cannot make the runtime directory ${path}: ${(error as Error).message}`);
    }
  }
  judgePrivateDirectory(
    path,
    lstatSync(path),
    what => new InputError(variable, `cannot use the runtime directory ${path}: ${what}; ${fix}`)
  );
  return path;
}

function isPrivate(path: string): boolean {
  try {
    const stats = lstatSync(path);
    return stats.isDirectory() && stats.uid === process.getuid?.() && (stats.mode & 0o077) === 0;
  } catch {
    return false; // set, but not on this node (inherited from a login node): not usable here
  }
}
