"""JSON over HTTP on a unix socket: how Python reaches a dask-hpc owner (sidecar or `up`)."""

from __future__ import annotations

import http.client
import json
import socket

from .errors import DaskHpcError, refusal


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def call(socket_path: str, method: str, path: str, body: dict | None = None, timeout: float = 300):
    connection = _UnixConnection(socket_path, timeout)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    data = json.loads(text) if text else None
    if response.status == 400:
        raise refusal(data.get("message", text))
    if response.status >= 300:
        raise DaskHpcError(data.get("message", text) if isinstance(data, dict) else text)
    return data
