"""A small fault-injecting HTTP proxy on loopback, between exitkit and a real server.

For a seeded fraction of requests it answers 503 SlowDown (with Retry-After), resets the
connection, delays, or flips one byte of an object body it relays. It counts what it did.
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
    """What to inject; each fraction applies to every request independently."""

    slow_down: float = 0.0
    reset: float = 0.0
    flip_byte: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.2
    seed: int = 1
    injected: Counter = field(default_factory=Counter)


class FaultProxy:
    """Relays to ``127.0.0.1:upstream_port``; use as a context manager."""

    def __init__(self, upstream_port: int, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

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
                    self.wfile.write(SLOW_DOWN)
                    return
                if fault == "delay":
                    threading.Event().wait(proxy.faults.delay_seconds)
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                if fault == "flip_byte" and answer.status == 200 and payload:
                    position = proxy._random_position(len(payload))
                    payload = (payload[:position] + bytes([payload[position] ^ 0x01])
                               + payload[position + 1:])
                else:
                    proxy._undo(fault)
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_HEADERS | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _draw(self, method: str, path: str) -> str | None:
        parts = urlsplit(path)
        object_body = parts.path.count("/") >= 2 and "tagging" not in parts.query
        faults = self.faults
        with self._lock:
            roll = self._random.random()
            for name in ("slow_down", "reset", "delay"):
                if roll < getattr(faults, name):
                    faults.injected[name] += 1
                    return name
                roll -= getattr(faults, name)
            if method == "GET" and object_body and self._random.random() < faults.flip_byte:
                faults.injected["flip_byte"] += 1
                return "flip_byte"
        return None

    def _undo(self, fault: str | None) -> None:
        """A flip drawn for a response that had no body to flip did not happen."""
        if fault == "flip_byte":
            with self._lock:
                self.faults.injected["flip_byte"] -= 1

    def _random_position(self, length: int) -> int:
        with self._lock:
            return self._random.randrange(length)

    def __enter__(self) -> "FaultProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
