"""Signed S3 requests over keep-alive connections shared by all threads.

:class:`~exitkit.providers.sigv4.SigV4Signer` signs; the standard library's
``http.client`` opens each connection (proxy tunnel, TLS and its certificate checks), and
requests and answers then go over the connection's socket directly (:class:`_Link`).
Client CPU per request decided the layers (measured, see docs/performance.md):

* libcloud's own request path goes through requests' session machinery and took about 60%
  of a drill's CPU;
* urllib3's pool, URL checks and header dictionaries then cost about 230 µs of the 380 µs
  a HEAD took;
* ``http.client``'s request and answer path (header checks one call per header, a new
  buffered reader per answer, the ``email`` header parser, two writes per request) then
  cost about 170 µs of Python per request, where the socket calls take about 30 µs:
  :class:`_Link` writes each request with one ``sendall`` and reads answers with one
  buffered reader per connection, with ``http.client``'s limits (line length, header
  count) and its reading of the status line, chunked bodies, lengths and keep-alive.

Nothing here decodes a body, so a ``Content-Encoding`` answer is read as stored (and
``Accept-Encoding: identity`` asks for it so). Nothing here retries or follows a redirect:
a failure is raised once, and exitkit's retry policy counts it.
"""

import http.client
import re
import socket
import ssl
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import libcloud.security
import urllib3
from urllib3.util.wait import wait_for_read

from exitkit.errors import EndpointError
from exitkit.providers.sigv4 import SigV4Signer, canonical_query, payload_hash

USER_AGENT = "exitkit"


_MAX_LINE = 65536  # as http.client: the longest status, header or chunk-size line
_SINGLE_WRITE = 1 << 20  # a body up to this size goes out in the same write as the head
READ_WHOLE = 1 << 20  # the read size of an answer read whole
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_URL_UNSAFE = re.compile("[\x00-\x20\x7f]")


def _request_head(method: str, target: str, headers: Mapping[str, str]) -> bytes:
    """The request line and header block, refusing (ValueError) what would split the
    request: a name that is no token, CR, LF or NUL in a value, a space or control
    character in the target. Values are sent as Latin-1, as ``http.client`` sends them."""
    names = "".join(headers)
    if not _TOKEN.fullmatch(names) or not all(headers) or _URL_UNSAFE.search(target):
        raise ValueError(f"a header name or the request target is not valid: {method} "
                         f"{target[:200]}")
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if lines.count("\n") != len(headers) or lines.count("\r") != len(headers) \
            or "\x00" in lines:
        raise ValueError(f"a header value holds CR, LF or NUL: {method} {target[:200]}")
    return f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


def _answer_head(reader) -> tuple[str, int, dict[str, str]]:
    """The next answer's HTTP version, status and headers (lower-case names; a repeated
    header's values joined with ", "). The head is parsed in one piece when the reader
    already holds all of it (the usual case), else line by line; either way with
    ``http.client``'s limits on line length and header count."""
    buffered = reader.peek(_MAX_LINE)
    end = buffered.find(b"\r\n\r\n")
    if 0 <= end < _MAX_LINE and b"\n" not in buffered[:end].replace(b"\r\n", b""):
        lines = reader.read(end + 4).decode("iso-8859-1").split("\r\n")[:-2]
        status_line, lines = lines[0], lines[1:]
        if len(lines) > http.client._MAXHEADERS:  # no line is longer: the head is not
            raise http.client.HTTPException(f"got more than {http.client._MAXHEADERS} "
                                             f"headers")
    else:
        raw = reader.readline(_MAX_LINE + 1)
        if not raw:
            raise http.client.RemoteDisconnected("the server closed the connection without "
                                                 "an answer")
        if len(raw) > _MAX_LINE:
            raise http.client.LineTooLong("status line")
        status_line = raw.decode("iso-8859-1").rstrip("\r\n")
        lines = [line.decode("iso-8859-1").rstrip("\r\n")
                 for line in http.client._read_headers(reader)][:-1]
    version, _space, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise http.client.BadStatusLine(repr(status_line[:200]))
    return version, int(code), _header_dict(lines)


def _header_dict(lines: list[str]) -> dict[str, str]:
    """Header lines as lower-case name -> value; a repeated header's values joined with
    ", ", a folded line appended to the header before it."""
    headers: dict[str, str] = {}
    name = None
    for line in lines:
        if line[:1] in (" ", "\t"):
            if name is not None:
                headers[name] = f"{headers[name]} {line.strip()}"
            continue
        field, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = field.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class _Body:
    """The body of one answer, read from the connection's reader: by Content-Length, in
    chunks (``Transfer-Encoding: chunked``), or to the end of the connection. ``done`` once
    it was read to its end. A body cut short raises ConnectionError."""

    __slots__ = ("_reader", "_remaining", "_chunked", "_chunk_left", "done")

    def __init__(self, reader, length: int | None, chunked: bool) -> None:
        self._reader, self._remaining, self._chunked = reader, length, chunked
        self._chunk_left = None
        self.done = length == 0

    def read(self, amount: int) -> bytes:
        """Up to *amount* bytes; b"" at the end."""
        if self.done:
            return b""
        if self._chunked:
            return self._read_chunk(amount)
        if self._remaining is None:  # to the end of the connection
            data = self._reader.read(amount)
            self.done = not data
            return data
        data = self._reader.read(min(amount, self._remaining))
        if not data:
            raise ConnectionError(f"the connection closed {self._remaining} bytes before "
                                  f"the end of the body")
        self._remaining -= len(data)
        self.done = self._remaining == 0
        return data

    def _read_chunk(self, amount: int) -> bytes:
        reader = self._reader
        if not self._chunk_left:
            if self._chunk_left == 0:  # the CRLF that ends the chunk before
                reader.readline(_MAX_LINE + 1)
            line = reader.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                raise http.client.LineTooLong("chunk size")
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise ConnectionError("the connection closed inside a chunked body") from None
            if size == 0:
                http.client._read_headers(reader)  # trailers, to the blank line
                self.done = True
                return b""
            self._chunk_left = size
        data = reader.read(min(amount, self._chunk_left))
        if not data:
            raise ConnectionError("the connection closed inside a chunked body")
        self._chunk_left -= len(data)
        return data


class _Link:
    """One keep-alive connection. ``http.client`` opens it (the proxy's tunnel, TLS and its
    checks); requests and answers then go over its socket directly: one write per request
    (two for a body above a MiB) and one buffered reader for the connection's life, where
    ``http.client`` spends about 150 µs of Python a request on the same work."""

    __slots__ = ("_open", "_connection", "reader")

    def __init__(self, open_connection: Callable[[], http.client.HTTPConnection]) -> None:
        self._open, self._connection, self.reader = open_connection, None, None

    @property
    def sock(self) -> socket.socket | None:
        """The connection's socket; None until the first request opens it."""
        return self._connection.sock if self._connection is not None else None

    def exchange(self, method: str, head: bytes, body: bytes | None):
        """Send one request; its answer's version, status, headers and :class:`_Body`."""
        if self._connection is None:
            connection = self._open()
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connection, self.reader = connection, connection.sock.makefile("rb")
        sock = self._connection.sock
        if body and len(body) > _SINGLE_WRITE:
            sock.sendall(head)
            sock.sendall(body)
        else:
            sock.sendall(head + body if body else head)
        reader = self.reader
        while True:
            version, status, headers = _answer_head(reader)
            if not 100 <= status < 200:
                break
        connection_header = headers.get("connection", "").lower()
        will_close = ("close" in connection_header if version == "HTTP/1.1"
                      else "keep-alive" not in connection_header)
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length", "")
        if method == "HEAD" or status in (204, 304):
            body_length = 0
        elif chunked:
            body_length = None
        elif length.isdigit():
            body_length = int(length)
        else:
            body_length, will_close = None, True
        return status, headers, _Body(reader, body_length, chunked), will_close

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self.reader is not None:
            self.reader.close()
        if self._connection is not None:
            self._connection.close()
        self._connection, self.reader = None, None


class _Connections:
    """Idle connections to one server, shared by every thread (a deque's ``append`` and
    ``pop`` are atomic), most recently used first; never blocks: a thread that finds none
    idle opens one more, and a connection given back beyond *size* is closed."""

    def __init__(self, open_connection, size: int) -> None:
        self._open, self._size, self.idle = open_connection, size, deque()

    def take(self) -> _Link:
        """An idle connection the server has not closed meanwhile (it would be readable),
        else a new one (opened on its first request)."""
        while True:
            try:
                link = self.idle.pop()
            except IndexError:
                return _Link(self._open)
            if link.sock is None or not wait_for_read(link.sock, timeout=0):
                return link
            link.close()

    def give(self, link: _Link) -> None:
        """Keep *link* for the next request (its last answer was read to the end)."""
        if len(self.idle) < self._size:
            self.idle.append(link)
        else:
            link.close()


class Answer:
    """One S3 answer: ``method`` (of the request), ``status`` and ``headers`` (lower-case
    names; repeated headers joined with ", ").

    A streamed answer holds its connection until its body is read to the end
    (:meth:`stream`) or :meth:`close` is called; its body is the bytes as stored. Any other
    answer was read whole: ``body``.
    """

    __slots__ = ("method", "status", "headers", "body", "streamed", "_body", "_release")

    def __init__(self, method: str, status: int, headers: dict[str, str], body: _Body,
                 streamed: bool, release: Callable[[bool], None]) -> None:
        self.method, self.status, self.headers, self.streamed = method, status, headers, streamed
        self._body, self._release = body, release
        self.body = b""
        if not streamed:
            try:
                self.body = b"".join(iter(lambda: body.read(READ_WHOLE), b""))
            finally:
                self.close()

    def stream(self, amount: int, decode_content: bool = False) -> Iterator[bytes]:
        """The body as stored, in pieces of at most *amount* bytes (nothing here decodes;
        *decode_content* is accepted as urllib3's ``stream`` has it). A body that ends
        before its Content-Length raises ConnectionError."""
        while chunk := self._body.read(amount):
            yield chunk

    def first_bytes(self, limit: int) -> bytes:
        """Up to *limit* bytes of the body (an error document)."""
        if self.streamed:
            return self._body.read(limit)
        return self.body[:limit]

    def close(self) -> None:
        """Give the connection back: reused when the body was read to the end, else closed
        (unread bytes must not reach the next request)."""
        release, self._release = self._release, None
        if release is not None:
            release(self._body.done)


def _carries_md5(headers: Mapping[str, str]) -> bool:
    return any(name.lower() == "content-md5" for name in headers)


def _proxy_for(scheme: str, host: str, port: int):
    """The proxy the environment (``*_proxy``, ``no_proxy``) chooses for *host*, split, or
    None (read once per store: the host is fixed). A proxy named without a scheme is an
    HTTP proxy, as curl and requests read it; a proxy spoken to over TLS or SOCKS is
    refused with EndpointError. An HTTPS endpoint is reached through a tunnel; a plain-HTTP
    one is forwarded."""
    if proxy_bypass(f"{host}:{port}"):
        return None
    proxy = getproxies().get(scheme)
    if proxy is None:
        return None
    proxied = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if proxied.scheme != "http":
        raise EndpointError(f"{scheme.upper()}_PROXY",
                            f"{proxied.scheme}:// proxies are not supported; name an "
                            f"http:// proxy (it tunnels HTTPS)")
    if not proxied.hostname:
        raise EndpointError(f"{scheme.upper()}_PROXY", "the proxy URL names no host")
    return proxied


def _tls_context() -> ssl.SSLContext:
    """Verify certificates against libcloud's CA bundle unless libcloud's
    ``VERIFY_SSL_CERT`` is off."""
    context = ssl.create_default_context(cafile=libcloud.security.CA_CERTS_PATH)
    if not libcloud.security.VERIFY_SSL_CERT:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _proxy_authorization(proxy) -> dict[str, str]:
    """The ``Proxy-Authorization`` header for the credentials in the proxy's URL."""
    if proxy.username is None:
        return {}
    return urllib3.make_headers(
        proxy_basic_auth=f"{unquote(proxy.username)}:{unquote(proxy.password or '')}")


class S3Transport:
    """Signs S3 requests with *signer* and sends them to one endpoint over connections
    shared by every thread (thread-safe, keep-alive).

    Up to *connections* idle connections are kept; a thread that finds none idle opens one
    more (see :class:`_Connections`). A body that carries ``Content-MD5`` is signed as
    ``UNSIGNED-PAYLOAD``: the signed MD5 already makes the server refuse a damaged body;
    other bodies keep a signed SHA-256. *timeout_s* bounds the connect and every read.
    """

    def __init__(self, signer: SigV4Signer, secure: bool, host: str, port: int | None,
                 connections: int, timeout_s: float) -> None:
        scheme = "https" if secure else "http"
        default_port = 443 if secure else 80
        port = port or default_port
        self._signer = signer
        self._fixed = {"Host": host if port == default_port else f"{host}:{port}",
                       "User-Agent": USER_AGENT}
        self._prefix, self._unsigned = "", {"Accept-Encoding": "identity"}
        proxied = _proxy_for(scheme, host, port)
        address = (proxied.hostname, proxied.port or 80) if proxied else (host, port)
        context = _tls_context() if secure else None

        def open_connection() -> http.client.HTTPConnection:
            if secure:
                connection = http.client.HTTPSConnection(*address, timeout=timeout_s,
                                                         context=context)
                if proxied:  # a tunnel: the proxy sees neither the request nor its signature
                    connection.set_tunnel(host, port, _proxy_authorization(proxied))
            else:
                connection = http.client.HTTPConnection(*address, timeout=timeout_s)
            return connection

        self._connections = _Connections(open_connection, connections)
        if proxied and not secure:  # forwarded: the absolute URL, the proxy's credentials
            self._prefix = f"{scheme}://{host}:{port}"
            self._unsigned.update(_proxy_authorization(proxied))

    def send(self, method: str, path: str, params: Mapping[str, object] | None = None,
             headers: Mapping[str, str] | None = None, data: bytes | None = None,
             stream: bool = False) -> Answer:
        """Send one signed request; *path* is sent as given (already quoted). A *stream*
        answer's body is left unread; any other answer is read whole."""
        query = canonical_query(params) if params else ""
        headers = {**self._fixed, **(headers or {})}
        self._signer.sign(method, path, query, headers,
                          payload_hash(method, data, unsigned=bool(data)
                                       and _carries_md5(headers)))
        headers.update(self._unsigned)
        if (data is not None or method in ("PUT", "POST")) \
                and "Content-Length" not in headers and "content-length" not in headers:
            headers["Content-Length"] = str(len(data or b""))
        target = f"{self._prefix}{path}?{query}" if query else f"{self._prefix}{path}"
        head = _request_head(method, target, headers)
        link = self._connections.take()
        try:
            status, answer_headers, body, will_close = link.exchange(method, head, data)
        except BaseException:
            link.close()
            raise

        def release(read_to_end: bool) -> None:
            if read_to_end and not will_close:
                self._connections.give(link)
            else:
                link.close()

        return Answer(method, status, answer_headers, body, stream, release)
