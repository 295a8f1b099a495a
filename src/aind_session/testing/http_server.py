"""A threaded HTTP/1.1 server for WSGI applications, with keep-alive.

werkzeug's development server closes the connection after every response, so
a client pays a new TCP connection per request; the real CodeOcean and S3
keep connections open. This server keeps them open too (each response is
buffered and sent with ``Content-Length``), so the sandbox costs clients what
the real services do.

An application answers an error as :class:`ApiError` (a status and a JSON
message). For the sandbox's fault injection it may misbehave on the wire:

- raise :class:`DroppedConnection` to close the connection with no answer,
  after ``wait`` seconds of silence if asked (a stalled server);
- return a :class:`Delivery` as its body to send the answer one byte at a time
  or to close the connection part way through it.

Waits end at once when the server stops. ``environ["aind_sandbox.socket"]``
is the connection's socket.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ApiError(Exception):
    """An HTTP error an application answers with a JSON ``{"message": ...}`` body,
    as the real CodeOcean and DocDB APIs do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DroppedConnection(Exception):
    """Raised by an application to close the connection without an answer.

    Parameters
    ----------
    wait
        Seconds to send nothing before closing (0: close at once); cut short
        when the server stops.
    """

    def __init__(self, wait: float = 0.0) -> None:
        super().__init__(f"connection dropped after {wait} s")
        self.wait = wait


class Delivery:
    """A response body that the server sends faultily.

    ``Content-Length`` always declares the whole ``payload``. With
    ``cut_after``, only that many bytes are sent and the connection is then
    closed; otherwise each byte is sent on its own, ``byte_interval`` seconds
    after the one before (the first after one interval). Either stops, closing
    the connection, when the server stops.
    """

    def __init__(
        self, payload: bytes, *, byte_interval: float = 0.0, cut_after: int | None = None
    ) -> None:
        self.payload = payload
        self.byte_interval = byte_interval
        self.cut_after = cut_after

    def __iter__(self) -> Iterator[bytes]:
        yield self.payload


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle kept-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm
        # and the client's delayed ACK stall every kept-alive answer ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        with _quiet():
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox http: " + format, *args)

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "aind_sandbox.socket": self.connection,
        }
        if self.headers.get("Content-Type"):
            environ["CONTENT_TYPE"] = self.headers["Content-Type"]
        for key, value in self.headers.items():
            name = "HTTP_" + key.upper().replace("-", "_")
            if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[name] = f"{environ[name]},{value}" if name in environ else value
        status_headers: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            status_headers[:] = [status, headers]
            return lambda data: None  # the old write() API is not used by our apps

        try:
            result = self.server.app(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except DroppedConnection as exc:
            if exc.wait > 0:
                self.server.stopping.wait(exc.wait)
            self._hang_up()
            return
        status, headers = status_headers
        code, _, reason = status.partition(" ")
        self.send_response_only(int(code), reason)
        declared = None
        for key, value in headers:
            if key.lower() == "content-length":
                declared = value
            elif key.lower() not in ("connection", "transfer-encoding"):
                self.send_header(key, value)
        # a HEAD answer declares the size of what a GET would send
        size = declared if self.command == "HEAD" and declared else str(len(payload))
        self.send_header("Content-Length", size)
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(result, Delivery):
            self._deliver(result, payload)
        else:
            self.wfile.write(payload)

    def _deliver(self, delivery: Delivery, payload: bytes) -> None:
        with _quiet():
            if delivery.cut_after is not None:
                self.wfile.write(payload[: delivery.cut_after])
            else:
                for i in range(len(payload)):
                    if self.server.stopping.wait(delivery.byte_interval):
                        break
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                else:
                    return  # all sent: the connection may be kept alive
        self._hang_up()

    def _hang_up(self) -> None:
        self.close_connection = True
        with _quiet():
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a client opening more connections at
    # once would see the rest dropped and retried by TCP a second or more later
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address: tuple[str, int], app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.stopping = threading.Event()  # ends the waits of stalled and trickled answers
        super().__init__(address, _Handler)

    def stop(self) -> None:
        """Stop accepting, and close the connections kept alive (so nothing is served after)."""
        self.stopping.set()
        self.shutdown()
        self.server_close()
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            with _quiet():
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "sandbox http: connection from %s ended with an error", client_address, exc_info=True
        )


def serve(app: WSGIApp, host: str, port: int, name: str) -> tuple[_Server, threading.Thread]:
    """Serve ``app`` on ``host:port`` (0: any free port) from a daemon thread.

    Raises
    ------
    OSError
        When the port cannot be bound.
    """
    server = _Server((host, port), app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return server, thread
