"""Loaded by every Python process the tests start: only loopback and local sockets may connect."""

import ipaddress
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = str(address[0])
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _allowed(address):
        raise ConnectionRefusedError(f"tests block network access (tried {address!r})")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _allowed(address):
        raise ConnectionRefusedError(f"tests block network access (tried {address!r})")
    return _real_connect_ex(self, address)


_patched: Any = socket.socket  # replacing a method of a class: the type checker is told it is meant
_patched.connect = _guarded_connect
_patched.connect_ex = _guarded_connect_ex
