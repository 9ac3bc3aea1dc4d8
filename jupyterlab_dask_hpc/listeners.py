"""Which process holds a TCP listening socket on this node's loopback (Linux /proc).

A port number proves nothing on a shared node: once a scheduler ends, any user may listen on
its port. Before the dashboard route relays to a port, it checks here that the listener is
the scheduler's own socket.
"""

from __future__ import annotations

import os

TCP_LISTEN = "0A"
# 127.0.0.1 (in either byte order: /proc/net/tcp writes the host's) and 0.0.0.0: a connection
# to 127.0.0.1:PORT reaches a listener on either.
LOOPBACK_OR_ANY = {"0100007F", "7F000001", "00000000"}


# IPv6 listeners are not consulted: while the scheduler listens on 127.0.0.1:PORT, Linux refuses
# another listener that would take those connections (::ffff:127.0.0.1, a dual-stack ::), and a
# v6-only one never gets them; counting them would only let another user block the dashboard.


def listening_inodes(port: int, table: str = "/proc/net/tcp") -> set[str]:
    """The socket inodes listening on 127.0.0.1:port or 0.0.0.0:port, in this network namespace."""
    inodes = set()
    with open(table) as lines:
        next(lines)  # the header
        for line in lines:
            fields = line.split()
            address, local_port = fields[1].split(":")
            if fields[3] == TCP_LISTEN and int(local_port, 16) == port and address in LOOPBACK_OR_ANY:
                inodes.add(fields[9])
    return inodes


def socket_inodes_of(pid: int) -> set[str]:
    """The inodes of the sockets process pid has open (empty if it is gone or not ours to read)."""
    inodes = set()
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def listener_belongs_to(port: int, pid: int | None) -> bool:
    """Whether every socket listening on 127.0.0.1:port is one of process pid's: there is one,
    and no other process (another user's) shares the port."""
    if not pid:
        return False
    listening = listening_inodes(port)
    return bool(listening) and listening <= socket_inodes_of(pid)
