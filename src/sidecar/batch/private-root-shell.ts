/**
 * The cluster-root checks of private-directory.ts as POSIX sh, for the hosts the sidecar does
 * not run on: worker jobs' nodes (in the job script) and runner mode's nodes (before the
 * workers start). Each piece is one line: pbsdsh cuts a command at its first newline. No value
 * is put into the text: directories arrive as arguments or as the job's own variables.
 */

/**
 * `dask_hpc_unsafe DIR` prints why DIR, or a directory above it, is not private (another
 * user's but root's, or writable by its group or others without the sticky bit), and nothing
 * when every one is safe: the shell form of unsafeAncestor.
 */
export const UNSAFE_FUNCTION =
  'dask_hpc_unsafe() { p=$(cd "$1" 2>/dev/null && pwd -P) || { echo "$1 cannot be entered"; return 0; }; u=$(id -u); ' +
  'while :; do ' +
  'if [ -n "$(find "$p" -maxdepth 0 \\( ! -uid 0 ! -uid "$u" \\) -o \\( -perm /022 ! -perm -1000 \\))" ]; then ' +
  'echo "$p (mode $(stat -c %a "$p"), uid $(stat -c %u "$p")) is another user\'s, or writable by its group or others without the sticky bit, so they can rename or replace what is in it"; return 0; fi; ' +
  '[ "$p" = / ] && return 0; p=$(dirname "$p"); ' +
  'done; }';

/**
 * Makes the per-user root `$1` 0700 and refuses it unless it is a real directory of this
 * user's that nobody else can write (the shell form of judgePrivateDirectory).
 */
const OWN_ROOT =
  '(umask 077 && mkdir -p "$local_root"); ' +
  'if [ -L "$local_root" ] || [ ! -O "$local_root" ] || [ -n "$(find "$local_root" -maxdepth 0 -perm /022)" ]; then ' +
  'echo "dask-hpc: $local_root is not yours alone (another user owns it or can write to it); remove it, or set TMPDIR to a directory of your own" >&2; exit 1; fi';

/**
 * A job script's lines that choose `local_root`: `<first private candidate>/<rootName>`, the
 * candidates being the job's own variables in order (`${PBS_JOBFS:-}`, …, then /tmp); one
 * passed over is said on stderr (the job's log), and with none private the job ends at once.
 */
export function jobRootLines(candidates: string[], rootName: string): string[] {
  return [
    UNSAFE_FUNCTION,
    'local_base=',
    `for candidate in ${candidates.join(' ')}; do`,
    '  case "$candidate" in /*) ;; *) continue ;; esac',
    '  why=$(dask_hpc_unsafe "$candidate")',
    '  if [ -z "$why" ]; then local_base=$candidate; break; fi',
    '  echo "dask-hpc: passed over $candidate for temp and spill: $why" >&2',
    'done',
    'if [ -z "$local_base" ]; then echo "dask-hpc: no private directory for temp and spill on $(hostname); set TMPDIR to a directory only you can write" >&2; exit 1; fi',
    `local_root="$local_base/${rootName}"`,
    OWN_ROOT
  ];
}

/**
 * Runner mode: the argv that, on the worker's host, checks the cluster root ROOT (its
 * directories above, then ROOT itself), makes DIR (the workers' directory under it) 0700, and
 * then runs the rest of its arguments: `sh -c SCRIPT dask-hpc-check ROOT DIR python -m …`.
 */
export function checkedOnTheHost(root: string, directory: string): string[] {
  const script = [
    'local_root=$1; dir=$2; shift 2',
    UNSAFE_FUNCTION,
    'why=$(dask_hpc_unsafe "$(dirname "$local_root")")',
    'if [ -n "$why" ]; then echo "dask-hpc: cannot use $local_root for cluster files on $(hostname): $why; set TMPDIR to a directory only you can write" >&2; exit 1; fi',
    OWN_ROOT,
    '(umask 077 && mkdir -p "$dir") || exit 1',
    'exec "$@"'
  ].join('; ');
  return ['/bin/sh', '-c', script, 'dask-hpc-check', root, directory];
}
