"""A small fault-injecting HTTP proxy on loopback, between exitkit and a real server.

For a seeded fraction of requests it answers 503 SlowDown (with Retry-After), resets the
connection, delays, or cuts the answer off (closes the connection) halfway through its
body. For a seeded fraction of object keys (chosen by the key, so the same keys whatever
the bucket or the order of requests) it flips one byte of the first body it relays, and
relays later reads intact. It can also hide the part count of
``HEAD ?partNumber=N``, as a store that does not say an object's part size, and close every
connection once its answer is sent, as a server whose idle timeout passed. It counts and
lists what it did, and the connections it accepted.
"""

import http.client
import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")


@dataclass
class Faults:
    """What to inject, and what was. ``slow_down``, ``reset`` and ``delay`` apply to every
    request independently (``requests`` lists each one hit), as does ``cut`` (the answer's
    headers and half its body are relayed, then the connection is closed); ``flip_byte`` is
    the fraction of object keys whose first GET body is damaged (one byte flipped),
    ``flipped`` the paths damaged; ``hide_part_sizes`` drops ``x-amz-mp-parts-count`` from
    part HEADs. ``close_idle`` closes each connection after its answer without saying
    ``Connection: close``. ``list_version_1`` drops ``list-type=2`` from listings, so the
server answers ListObjects (V1) and ignores ``start-after``, as a store without V2 would.
With ``only``, the four per-request faults fall only on requests whose query
    holds that text (e.g. ``partNumber=``: upload parts), and ``seen`` counts every request
    that matched."""

    slow_down: float = 0.0
    reset: float = 0.0
    cut: float = 0.0
    flip_byte: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.2
    hide_part_sizes: bool = False
    close_idle: bool = False
    list_version_1: bool = False
    only: str | None = None
    seed: int = 1
    injected: Counter = field(default_factory=Counter)
    flipped: set = field(default_factory=set)
    requests: list = field(default_factory=list)  # (fault, method, path) of each injected
    seen: int = 0
    connections: int = 0


class FaultProxy:
    """Relays to ``127.0.0.1:upstream_port``; use as a context manager."""

    def __init__(self, upstream_port: int, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._read_paths: set[str] = set()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                proxy._count_connection()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._draw(self.command, self.path)
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    self.close_connection = True
                    return
                if fault == "slow_down":
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    if self.command != "HEAD":  # a body after a HEAD answer would be read
                        self.wfile.write(SLOW_DOWN)  # as the start of the next answer
                    return
                if fault == "delay":
                    threading.Event().wait(proxy.faults.delay_seconds)
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                path = self.path
                if proxy.faults.list_version_1:
                    path = path.replace("list-type=2&", "").replace("&list-type=2", "") \
                        .replace("?list-type=2", "?")
                upstream.request(self.command, path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                if fault == "flip_byte" and answer.status == 200 and payload:
                    position = proxy._flip_position(self.path, len(payload))
                    payload = (payload[:position] + bytes([payload[position] ^ 0x01])
                               + payload[position + 1:])
                else:
                    proxy._undo(fault, self.path)
                hidden = HOP_HEADERS | {"content-length"}
                if proxy.faults.hide_part_sizes and "partNumber=" in urlsplit(self.path).query:
                    hidden = hidden | {"x-amz-mp-parts-count"}
                    proxy._count("hide_part_size")
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in hidden:
                        self.send_header(name, value)
                length = (answer.getheader("Content-Length", "0") if self.command == "HEAD"
                          else str(len(payload)))  # a HEAD answer has the object's length
                self.send_header("Content-Length", length)
                self.end_headers()
                if fault == "cut":
                    self.wfile.write(payload[:len(payload) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif self.command != "HEAD":
                    self.wfile.write(payload)
                if proxy.faults.close_idle and fault != "cut":
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    proxy._count("close_idle")
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _draw(self, method: str, path: str) -> str | None:
        parts = urlsplit(path)
        object_body = (parts.path.count("/") >= 2 and not parts.path.endswith("/")
                       and "tagging" not in parts.query)
        faults = self.faults
        with self._lock:
            roll = self._random.random()
            if faults.only is not None:
                if faults.only in parts.query:
                    faults.seen += 1
                else:
                    roll = 1.0
            for name in ("slow_down", "reset", "delay", "cut"):
                if roll < getattr(faults, name):
                    faults.injected[name] += 1
                    faults.requests.append((name, method, path))
                    return name
                roll -= getattr(faults, name)
            if method == "GET" and object_body and parts.path not in self._read_paths:
                self._read_paths.add(parts.path)
                if self._path_random(parts.path).random() < faults.flip_byte:
                    faults.injected["flip_byte"] += 1
                    faults.flipped.add(parts.path)
                    return "flip_byte"
        return None

    def _path_random(self, path: str) -> random.Random:
        """Seeded by the object's key (the path after the bucket), not by the bucket."""
        return random.Random(f"{self.faults.seed}:{path.split('/', 2)[2]}")

    def _count_connection(self) -> None:
        with self._lock:
            self.faults.connections += 1

    def _count(self, name: str) -> None:
        with self._lock:
            self.faults.injected[name] += 1

    def _undo(self, fault: str | None, path: str) -> None:
        """A flip drawn for a response that had no body to flip did not happen."""
        if fault == "flip_byte":
            with self._lock:
                self.faults.injected["flip_byte"] -= 1
                self.faults.flipped.discard(urlsplit(path).path)

    def _flip_position(self, path: str, length: int) -> int:
        generator = self._path_random(urlsplit(path).path)
        generator.random()
        return generator.randrange(length)

    def __enter__(self) -> "FaultProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
