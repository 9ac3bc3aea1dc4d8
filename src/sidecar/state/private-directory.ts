import { accessSync, chmodSync, constants, lstatSync, mkdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../errors';

const myUid = (): number => process.getuid?.() ?? -1;

/** The errno code of a file-system error, or null for anything else. */
function codeOf(error: unknown): string | null {
  return (error as NodeJS.ErrnoException | null)?.code ?? null;
}

/** Stats of a path, or null when nothing is there; other failures (EACCES, ENOTDIR) are thrown. */
function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return null;
    throw error;
  }
}

/** Why a file-system error happened, in words, for the path the user gave. */
export function describeFileError(path: string, error: unknown): string {
  switch (codeOf(error)) {
    case 'ENOENT':
      return `${path} does not exist`;
    case 'ENOTDIR':
      return `a part of ${path} is a file, not a directory`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${path}`;
    case 'EROFS':
      return `${path} is on a read-only file system`;
    case 'ENOSPC':
      return `no space left under ${path}`;
    case 'ENAMETOOLONG':
      return `${path} is too long a path`;
    default:
      return `${path}: ${(error as Error).message}`;
  }
}

/**
 * `mkdir -p` that stops: Node's recursive mkdir loops for ever under /proc (a directory that
 * refuses new entries with ENOENT). Each missing directory is made once, the last with `mode`.
 */
export function makeDirectories(path: string, mode: number): void {
  const missing: string[] = [];
  let current = path;
  while (lstatOrNull(current) === null) {
    const parent = dirname(current);
    // A dangling symbolic link on the way is not "missing": mkdir would fail on it below.
    missing.unshift(current);
    if (parent === current) break;
    current = parent;
  }
  for (const directory of missing) {
    mkdirSync(directory, { mode: directory === path ? mode : 0o777 });
  }
}

/**
 * A directory for this user's private files (state records, sockets), made 0700 if missing.
 * A symbolic link to a directory is followed (a home may link ~/.local elsewhere); a directory
 * of another user's is refused; one of ours that others can read is tightened to 0700.
 */
export function openOwnDirectory(path: string, remedy: string): void {
  const refuse = (what: string) => new InputError('directory', `cannot use ${path}: ${what}; ${remedy}`);
  let stats: Stats;
  try {
    makeDirectories(path, 0o700);
    stats = statSync(path);
  } catch (error) {
    let link: Stats | null = null;
    try {
      link = lstatSync(path);
    } catch {
      // nothing there, or nothing we may look at: the first error says which
    }
    if (link?.isSymbolicLink() && codeOf(error) === 'ENOENT') {
      throw refuse(`it is a symbolic link to ${readlinkSync(path)}, which does not exist`);
    }
    if (codeOf(error) === 'EEXIST' || (link && !link.isDirectory() && !link.isSymbolicLink())) throw refuse('it is not a directory');
    if (codeOf(error) === 'ENOENT') throw refuse('it cannot be made there (the file system refuses new directories)');
    throw refuse(describeFileError(path, error));
  }
  if (!stats.isDirectory()) throw refuse('it is not a directory');
  if (stats.uid !== myUid()) throw refuse(`it belongs to uid ${stats.uid}, not to you (uid ${myUid()})`);
  try {
    // A directory made earlier with a looser mode is tightened: it holds sockets that run code.
    if ((stats.mode & 0o077) !== 0) chmodSync(path, 0o700);
    accessSync(path, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw refuse(describeFileError(path, error));
  }
}

/**
 * The per-user root of cluster directories (temp and spill) on a file system other users may
 * share (/tmp): made 0700, and before use checked to be a real directory of this user's that
 * nobody else can write to; anything else could let another user swap a cluster's files.
 * With `create` false a missing root is fine (nothing is made: a request is only being checked).
 */
export function checkPrivateRoot(root: string, create: boolean): void {
  const remedy = 'remove it, or set TMPDIR (or PBS_JOBFS / SLURM_TMPDIR) to a directory only you can write';
  const refuse = (what: string) => new InputError('directory', `cannot use ${root} for cluster files: ${what}; ${remedy}`);
  const unsafe = unsafeAncestor(dirname(root)); // before anything is made under it
  if (unsafe) throw refuse(`${unsafe.path} ${unsafe.why}`);
  let stats: Stats | null;
  try {
    const base = statSync(dirname(root));
    if (!base.isDirectory()) throw refuse(`${dirname(root)} is not a directory`);
    stats = lstatOrNull(root);
    if (stats === null && create) {
      mkdirSync(root, { mode: 0o700 });
      stats = lstatSync(root);
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    if (codeOf(error) === 'EEXIST') return checkPrivateRoot(root, create); // made by someone else just now: judge it
    throw refuse(
      codeOf(error) === 'ENOTDIR'
        ? `${dirname(root)} is not a directory`
        : describeFileError(codeOf(error) === 'ENOENT' ? dirname(root) : root, error)
    );
  }
  if (stats === null) return;
  judgePrivateDirectory(root, stats, refuse);
}

/** A directory above a cluster root that another user could rearrange, and why. */
export interface UnsafeDirectory {
  path: string;
  why: string;
}

/**
 * The first directory at or above `path` (following links) that someone else controls: one of
 * another user's but root's, or one its group or others can write to without the sticky bit
 * (a project scratch at 2770). Whoever can write such a directory can rename what is in it
 * and put their own directory in its place, so nothing under it is private, whatever its mode.
 * Null when every one is safe; a path not made yet is judged by the part that exists.
 */
export function unsafeAncestor(path: string): UnsafeDirectory | null {
  let existing = path;
  while (lstatOrNull(existing) === null && dirname(existing) !== existing) existing = dirname(existing);
  let current: string;
  try {
    current = realpathSync(existing);
  } catch {
    return null; // a dangling link or EACCES: the checks that make the root name it
  }
  for (;;) {
    let stats: Stats;
    try {
      stats = statSync(current);
    } catch {
      return null;
    }
    const why = unsafeBecause(stats);
    if (why) return { path: current, why };
    if (dirname(current) === current) return null;
    current = dirname(current);
  }
}

function unsafeBecause(stats: Stats): string | null {
  if (stats.uid !== 0 && stats.uid !== myUid()) return `belongs to uid ${stats.uid}, who can rename or replace what is in it`;
  const sticky = (stats.mode & 0o1000) !== 0;
  if ((stats.mode & 0o022) !== 0 && !sticky) {
    const who = (stats.mode & 0o002) !== 0 ? 'everyone' : 'its group';
    return `is writable by ${who} without the sticky bit (mode ${modeOf(stats)}), so they can rename or replace what is in it`;
  }
  return null;
}

/**
 * Judges a directory of ours in a place other users share (/tmp), by its lstat: a link, a file,
 * another user's directory or one others can write to is refused (they may have planted files
 * in it); one that others can only read is tightened to 0700.
 */
export function judgePrivateDirectory(path: string, stats: Stats, refuse: (what: string) => Error): void {
  if (stats.isSymbolicLink()) throw refuse(`it is a symbolic link (to ${readlinkSync(path)})`);
  if (!stats.isDirectory()) throw refuse('it is not a directory');
  if (stats.uid !== myUid()) throw refuse(`it belongs to uid ${stats.uid}, not to you (uid ${myUid()})`);
  if ((stats.mode & 0o022) !== 0) throw refuse(`other users can write to it (mode ${modeOf(stats)}), so its contents cannot be trusted`);
  if ((stats.mode & 0o077) !== 0) chmodSync(path, 0o700); // ours and only readable by others: nothing was planted
}

function modeOf(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0');
}

/** The name of the per-user root under a temporary directory: `dask-hpc-<uid>`. */
export function privateRootName(): string {
  return `dask-hpc-${process.getuid?.() ?? 'user'}`;
}
