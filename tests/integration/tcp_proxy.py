"""A loopback TCP proxy a test can cut, stall and restore, to stand between the app and a
server."""

from __future__ import annotations

import contextlib
import ctypes
import socket
import struct
import threading
from types import TracebackType
from typing import Self

# Linux socket options (absent from Python's socket module) and a one-instruction classic BPF
# program, "return 0": the kernel discards each packet for the socket before TCP sees it, so
# nothing the peer sends is acknowledged, as when a network drops every packet.
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
_DROP_EVERY_PACKET = struct.pack("HBBI", 0x06, 0, 0, 0)


class TcpProxy:
    """Forwards connections made to ``127.0.0.1:<port>`` to ``target``.

    ``cut()`` closes every forwarded connection at once and closes each new one as soon as it
    is accepted, as a network partition or a restarting server would look to the client;
    ``restore()`` forwards new connections again.

    ``stall()`` keeps every connection open but lets nothing through either way, as a network
    that silently drops packets would: the proxy stops forwarding and, where the kernel allows
    socket filters (see ``can_stall_tcp``), its sockets acknowledge nothing and answer no new
    connection, so the client's own TCP timers are what end its wait. ``restore()`` ends the
    stall; whatever was held is then delivered, as TCP would retransmit it.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._passing = threading.Event()
        self._passing.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._passing.clear()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._acceptor.join(timeout=5)
        self._close_all()
        self._flowing.set()  # pumps holding data find their sockets closed and end
        for thread in list(self._threads):
            thread.join(timeout=5)

    def cut(self) -> None:
        self._passing.clear()
        self._close_all()

    def stall(self) -> None:
        with self._lock:
            self._flowing.clear()
            with contextlib.suppress(OSError):  # not allowed: the stall stops at forwarding
                for end in (self._listener, *self._open):
                    _drop_incoming(end)

    def restore(self) -> None:
        with self._lock:
            for end in (self._listener, *self._open):
                _accept_incoming(end)
            self._flowing.set()
        self._passing.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            if not self._passing.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:  # cut() may have come meanwhile: it holds this lock to close all
                if not self._passing.is_set():
                    _close(client)
                    _close(upstream)
                    continue
                if not self._flowing.is_set():  # accepted just before the stall began
                    with contextlib.suppress(OSError):
                        _drop_incoming(client)
                        _drop_incoming(upstream)
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self._threads.append(pump)
                pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._forget(end)

    def _close_all(self) -> None:
        with self._lock:
            ends, self._open = list(self._open), set()
        for end in ends:
            _close(end)

    def _forget(self, end: socket.socket) -> None:
        with self._lock:
            self._open.discard(end)
        _close(end)


def can_stall_tcp() -> bool:
    """Whether this process may attach socket filters (some kernels want CAP_NET_ADMIN)."""
    with socket.socket() as probe:
        try:
            _drop_incoming(probe)
        except PermissionError:
            return False
    return True


def _drop_incoming(end: socket.socket) -> None:
    program = ctypes.create_string_buffer(_DROP_EVERY_PACKET, len(_DROP_EVERY_PACKET))
    # struct sock_fprog: the number of instructions, then a pointer to them.
    fprog = struct.pack("HP", 1, ctypes.addressof(program))
    end.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _accept_incoming(end: socket.socket) -> None:
    with contextlib.suppress(OSError):  # no filter attached, or the socket closed meanwhile
        end.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        end.close()
