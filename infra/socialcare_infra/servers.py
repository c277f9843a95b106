"""The local stack's HTTP servers: werkzeug on 127.0.0.1, bound by us so a busy port raises
(werkzeug itself answers it with ``sys.exit(1)``) and the demo can fall back to a free one."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass
class Server:
    server: BaseWSGIServer
    thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def serve(self, name: str) -> None:
        # A short poll interval: shutdown() waits up to one interval per server.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), name=name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def bind(app: Callable[..., Any], port: int, fallback_to_free_port: bool, **kwargs: Any) -> Server:
    """A threaded werkzeug server on 127.0.0.1:``port`` (0 = any free port).

    The socket is bound here rather than by werkzeug, which answers a busy port with
    ``sys.exit(1)``: a library must raise instead, and the demo falls back to a free port.
    """
    try:
        sock = listen(port)
    except OSError as exc:
        if not (fallback_to_free_port and exc.errno == errno.EADDRINUSE and port != 0):
            raise OSError(exc.errno, f"cannot listen on {HOST}:{port}: {exc.strerror}") from exc
        log.info("port %d is busy, using a free port instead", port)
        sock = listen(0)
    with sock:  # werkzeug works on its own duplicate of the descriptor
        bound = sock.getsockname()[1]
        return Server(make_server(HOST, bound, app, threaded=True, fd=sock.fileno(), **kwargs))


def env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(f"SOCIALCARE_LOCAL_{name}_PORT")
    return int(raw) if raw else default
