"""Signed S3 requests sent over one shared urllib3 connection pool.

libcloud signs (its SigV4 signer, :class:`AWSRequestSignerAlgorithmV4`, with the driver's
region); urllib3 sends. libcloud's own request path goes through requests' session
machinery (``prepare_request``, header dicts, URL parsing, environment merging) and took
about 60% of a drill's CPU (measured, see docs/performance.md); a pool shared by all
threads also keeps connections alive across threads instead of one session per thread.

urllib3's own retries and redirects are off: a failure is raised once, and exitkit's
retry policy counts it. Bodies are read as stored where asked (``decode_content=False``).
"""

from collections.abc import Mapping
from urllib.parse import unquote
from urllib.request import getproxies, proxy_bypass

import libcloud.security
import urllib3
from libcloud.common.aws import AWSRequestSignerAlgorithmV4, UnsignedPayloadSentinel

USER_AGENT = "exitkit"


class Answer:
    """One S3 answer: ``method`` (of the request), ``status``, ``headers`` (lower-case
    names; repeated headers joined with ", "), and ``raw``, urllib3's response.

    A streamed answer holds its connection until its body is read to the end or
    :meth:`close` is called; the body is read from ``raw`` as stored
    (``raw.stream(..., decode_content=False)``). Any other answer was read whole: ``body``.
    """

    __slots__ = ("method", "status", "headers", "raw", "streamed")

    def __init__(self, method: str, raw: urllib3.BaseHTTPResponse, streamed: bool) -> None:
        self.method, self.raw, self.streamed = method, raw, streamed
        self.status = raw.status
        self.headers = {name.lower(): value for name, value in raw.headers.itermerged()}

    @property
    def body(self) -> bytes:
        """The whole body of an answer that was not streamed."""
        return self.raw.data

    def first_bytes(self, limit: int) -> bytes:
        """Up to *limit* bytes of the body, decoded (an error document is text, whatever
        the answer's encoding)."""
        if self.streamed:
            return self.raw.read(limit, decode_content=True)
        return self.raw.data[:limit]

    def close(self) -> None:
        """Give the connection back: reused when the body was read to the end, else closed
        (unread bytes must not reach the next request)."""
        self.raw.close()
        self.raw.release_conn()


def _carries_md5(headers: Mapping[str, str]) -> bool:
    return any(name.lower() == "content-md5" for name in headers)


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment (``*_proxy``, ``no_proxy``) chooses for *host*, or None
    (read once per store: the host is fixed). An HTTPS endpoint is reached through a
    tunnel; a plain-HTTP one is forwarded."""
    if proxy_bypass(host):
        return None
    return getproxies().get(scheme)


class S3Transport:
    """Signs S3 requests with libcloud's SigV4 *signer* and sends them to one endpoint over
    a urllib3 pool shared by every thread (thread-safe, keep-alive).

    The pool keeps up to *connections* idle connections and never blocks: a thread that
    finds none idle opens one more (one beyond *connections* is closed after its answer).
    A body that carries ``Content-MD5`` is signed as ``UNSIGNED-PAYLOAD``: the signed MD5
    already makes the server refuse a damaged body, and libcloud's signer would hash the
    payload twice (header and canonical request); other bodies keep a signed SHA-256.
    """

    def __init__(self, signer: AWSRequestSignerAlgorithmV4, secure: bool, host: str,
                 port: int | None, connections: int, timeout_s: float) -> None:
        scheme = "https" if secure else "http"
        default_port = 443 if secure else 80
        port = port or default_port
        self._signer = signer
        self._fixed = {"Host": host if port == default_port else f"{host}:{port}",
                       "User-Agent": USER_AGENT}
        timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        options = {"maxsize": connections, "block": False, "timeout": timeout,
                   "retries": False}
        if secure:
            options["cert_reqs"] = "CERT_REQUIRED" if libcloud.security.VERIFY_SSL_CERT \
                else "CERT_NONE"
            options["ca_certs"] = libcloud.security.CA_CERTS_PATH
        proxy = _proxy_for(scheme, host)
        self._prefix, self._proxy_headers = "", {}
        if proxy is None:
            self._pool = urllib3.connection_from_url(f"{scheme}://{host}:{port}", **options)
            return
        auth = urllib3.util.parse_url(proxy).auth
        proxy_headers = urllib3.make_headers(proxy_basic_auth=unquote(auth)) if auth else {}
        manager = urllib3.ProxyManager(proxy, num_pools=1, proxy_headers=proxy_headers,
                                       **options)
        self._pool = manager.connection_from_host(host, port, scheme)
        if not secure:  # forwarded: the absolute URL, the proxy's credentials unsigned
            self._prefix, self._proxy_headers = f"{scheme}://{host}:{port}", proxy_headers

    def send(self, method: str, path: str, params: Mapping[str, object] | None = None,
             headers: Mapping[str, str] | None = None, data: bytes | None = None,
             stream: bool = False) -> Answer:
        """Send one signed request; *path* is sent as given (already quoted). A *stream*
        answer's body is left unread and undecoded; any other answer is read whole."""
        params = dict(params or {})
        headers = {**self._fixed, **(headers or {})}
        payload = UnsignedPayloadSentinel if data and _carries_md5(headers) else data
        self._signer.get_request_headers(params, headers, method=method, path=path,
                                         data=payload)
        headers.update(self._proxy_headers)
        query = self._signer._get_request_params(params)  # the query exactly as signed
        target = f"{self._prefix}{path}?{query}" if query else f"{self._prefix}{path}"
        raw = self._pool.urlopen(method, target, body=data or None, headers=headers,
                                 retries=False, redirect=False, assert_same_host=False,
                                 preload_content=not stream, decode_content=not stream)
        return Answer(method, raw, stream)
