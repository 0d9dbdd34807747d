"""Signed S3 requests sent over a pool of ``http.client`` connections shared by all threads.

libcloud signs (its SigV4 signer, :class:`AWSRequestSignerAlgorithmV4`, with the driver's
region); the standard library's ``http.client`` sends. Client CPU per request decided the
layers (measured, see docs/performance.md):

* libcloud's own request path goes through requests' session machinery and took about 60%
  of a drill's CPU;
* urllib3's pool, URL checks and header dictionaries then cost about 230 µs of the 380 µs
  a HEAD took; ``http.client`` alone sends and reads the same request in 150 µs;
* ``http.client`` parses each header block with the ``email`` package (about 75 µs an
  answer): :class:`_Response` reads the same header lines with ``http.client``'s own line
  reader into a plain dict, and keeps every other step of ``http.client`` as it is.

``http.client`` never decodes a body, so a ``Content-Encoding`` answer is read as stored.
Nothing here retries or follows a redirect: a failure is raised once, and exitkit's retry
policy counts it.
"""

import http.client
import queue
import socket
import ssl
from collections.abc import Iterator, Mapping
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import libcloud.security
import urllib3
from libcloud.common.aws import AWSRequestSignerAlgorithmV4, UnsignedPayloadSentinel
from urllib3.util.wait import wait_for_read

from exitkit.errors import EndpointError

USER_AGENT = "exitkit"


class _DailyKeySigner(AWSRequestSignerAlgorithmV4):
    """libcloud's SigV4 signer, deriving its signing key once per day and region instead
    of with four HMACs on every request (the key depends on nothing else)."""

    def __init__(self, signer: AWSRequestSignerAlgorithmV4) -> None:
        super().__init__(signer.access_key, signer.access_secret, signer.version,
                         signer.connection)
        self._keys: dict[tuple[str, str], bytes] = {}

    def _get_key_to_sign_with(self, dt) -> bytes:
        scope = (dt.strftime("%Y%m%d"), self.connection.driver.region_name)
        key = self._keys.get(scope)
        if key is None:
            key = self._keys[scope] = super()._get_key_to_sign_with(dt)
        return key


class _Response(http.client.HTTPResponse):
    """``http.client``'s response with ``headers`` as a dict of lower-case names (repeated
    headers joined with ", "), read without the ``email`` parser. Status line, ``100
    Continue``, line and header-count limits, chunked bodies, lengths and keep-alive are
    ``http.client``'s own."""

    def begin(self) -> None:
        """Read the status line and headers and decide how the body ends, as
        ``http.client.HTTPResponse.begin`` does."""
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _header_dict(http.client._read_headers(self.fp))
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        if not self.chunked and self.headers.get("content-length", "").isdigit():
            self.length = int(self.headers["content-length"])
        if (status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
                or 100 <= status < 200 or self._method == "HEAD"):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _header_dict(lines: list[bytes]) -> dict[str, str]:
    """Header lines (ending with the blank line) as lower-case name -> value; a repeated
    header's values joined with ", ", a folded line appended to the header before it."""
    headers: dict[str, str] = {}
    name = None
    for raw in lines:
        line = raw.decode("iso-8859-1")
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


class _NoDelay:
    """Reads answers with :class:`_Response` and sends without Nagle's delay (a request's
    header and body go out in separate writes)."""

    response_class = _Response

    def connect(self) -> None:
        """Connect (through the tunnel, if one is set), then turn Nagle's algorithm off."""
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Connection(_NoDelay, http.client.HTTPConnection):
    """A plain connection to the endpoint or the proxy."""


class _TLSConnection(_NoDelay, http.client.HTTPSConnection):
    """A TLS connection to the endpoint, possibly through a proxy's tunnel."""


class _Connections:
    """Idle connections to one server, shared by every thread; never blocks: a thread that
    finds none idle opens one more, and a connection given back beyond *size* is closed."""

    def __init__(self, connect, size: int) -> None:
        self._connect, self._idle = connect, queue.LifoQueue(maxsize=size)

    def take(self) -> http.client.HTTPConnection:
        """An idle connection the server has not closed meanwhile (it would be readable),
        else a new one."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return self._connect()
            if connection.sock is None or not wait_for_read(connection.sock, timeout=0):
                return connection  # a closed one reconnects on its next request
            connection.close()

    def give(self, connection: http.client.HTTPConnection) -> None:
        """Keep *connection* for the next request (its last answer was read to the end)."""
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()


class Answer:
    """One S3 answer: ``method`` (of the request), ``status`` and ``headers`` (lower-case
    names; repeated headers joined with ", ").

    A streamed answer holds its connection until its body is read to the end
    (:meth:`stream`) or :meth:`close` is called; its body is the bytes as stored. Any other
    answer was read whole: ``body``.
    """

    __slots__ = ("method", "status", "headers", "body", "streamed", "_response", "_release")

    def __init__(self, method: str, response: _Response, streamed: bool, release) -> None:
        self.method, self.streamed = method, streamed
        self.status, self.headers = response.status, response.headers
        self._response, self._release = response, release
        self.body = b""
        if not streamed:
            try:
                self.body = response.read()
            finally:
                self.close()

    def stream(self, amount: int, decode_content: bool = False) -> Iterator[bytes]:
        """The body as stored, in pieces of at most *amount* bytes (*decode_content* is
        accepted as urllib3's ``stream`` has it; ``http.client`` never decodes). A body
        that ends before its Content-Length raises ConnectionError."""
        response = self._response
        while chunk := response.read(amount):
            yield chunk
        if response.length:  # http.client ends a body cut short silently
            raise ConnectionError(f"the connection closed {response.length} bytes before "
                                  f"the end of the body")

    def first_bytes(self, limit: int) -> bytes:
        """Up to *limit* bytes of the body (an error document)."""
        if self.streamed:
            return self._response.read(limit)
        return self.body[:limit]

    def close(self) -> None:
        """Give the connection back: reused when the body was read to the end, else closed
        (unread bytes must not reach the next request)."""
        release, self._release = self._release, None
        if release is not None:
            release(self._response.isclosed())
            self._response.close()


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
    """Signs S3 requests with libcloud's SigV4 *signer* and sends them to one endpoint over
    connections shared by every thread (thread-safe, keep-alive).

    Up to *connections* idle connections are kept; a thread that finds none idle opens one
    more (see :class:`_Connections`). A body that carries ``Content-MD5`` is signed as
    ``UNSIGNED-PAYLOAD``: the signed MD5 already makes the server refuse a damaged body,
    and libcloud's signer would hash the payload twice (header and canonical request);
    other bodies keep a signed SHA-256. *timeout_s* bounds the connect and every read.
    """

    def __init__(self, signer: AWSRequestSignerAlgorithmV4, secure: bool, host: str,
                 port: int | None, connections: int, timeout_s: float) -> None:
        scheme = "https" if secure else "http"
        default_port = 443 if secure else 80
        port = port or default_port
        self._signer = _DailyKeySigner(signer)
        self._fixed = {"Host": host if port == default_port else f"{host}:{port}",
                       "User-Agent": USER_AGENT}
        self._prefix, self._proxy_headers = "", {}
        proxied = _proxy_for(scheme, host, port)
        address = (proxied.hostname, proxied.port or 80) if proxied else (host, port)
        context = _tls_context() if secure else None

        def connect() -> http.client.HTTPConnection:
            if secure:
                connection = _TLSConnection(*address, timeout=timeout_s, context=context)
                if proxied:  # a tunnel: the proxy sees neither the request nor its signature
                    connection.set_tunnel(host, port, _proxy_authorization(proxied))
            else:
                connection = _Connection(*address, timeout=timeout_s)
            return connection

        self._connections = _Connections(connect, connections)
        if proxied and not secure:  # forwarded: the absolute URL, the proxy's credentials
            self._prefix = f"{scheme}://{host}:{port}"
            self._proxy_headers = _proxy_authorization(proxied)

    def send(self, method: str, path: str, params: Mapping[str, object] | None = None,
             headers: Mapping[str, str] | None = None, data: bytes | None = None,
             stream: bool = False) -> Answer:
        """Send one signed request; *path* is sent as given (already quoted). A *stream*
        answer's body is left unread; any other answer is read whole."""
        params = dict(params or {})
        headers = {**self._fixed, **(headers or {})}
        payload = UnsignedPayloadSentinel if data and _carries_md5(headers) else data
        self._signer.get_request_headers(params, headers, method=method, path=path,
                                         data=payload)
        headers.update(self._proxy_headers)
        query = self._signer._get_request_params(params)  # the query exactly as signed
        target = f"{self._prefix}{path}?{query}" if query else f"{self._prefix}{path}"
        connection = self._connections.take()
        try:
            connection.request(method, target, body=data or None, headers=headers)
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise

        def release(read_to_end: bool) -> None:
            if read_to_end:
                self._connections.give(connection)
            else:
                connection.close()

        return Answer(method, response, stream, release)
