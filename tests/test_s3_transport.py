"""exitkit's S3 transport over TLS and through HTTP proxies, against real loopback servers.

A moto_server serves HTTPS with a certificate for 127.0.0.1 signed by a throwaway CA made
here; :class:`ForwardProxy` is a real forward proxy (CONNECT tunnels, absolute-URL
forwarding, Basic proxy authentication) that records what it was asked. The transport
reads the proxy from the environment (``*_PROXY``, ``NO_PROXY``) when a source is opened.
"""

import base64
import datetime
import gzip
import hashlib
import http.client
import ipaddress
import json
import random
import select
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import boto3
import libcloud.security
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from exitkit.drill.spec import Credentials, Endpoint
from exitkit.drill.spec_file import Keys
from exitkit.embedded.servers import MotoServer
from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.providers.registry import open_source

CREDS = Credentials(access_key_env="UNUSED_A", secret_key_env="UNUSED_B")
PROXY_USER, PROXY_PASSWORD = "drill-ops", "p@ss:w0rd"
#: The password as it sits in a proxy URL (``@`` and ``:`` percent-encoded).
PROXY_PASSWORD_IN_URL = "p%40ss%3Aw0rd"
SIGNATURE_MARK = b"AWS4-HMAC-SHA256"


# -- a throwaway CA and a certificate for 127.0.0.1 -------------------------------------------

def _certificate(subject: str, key, issuer: x509.Name, issuer_key, ca: bool):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   (issuer_key or key).public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = (builder
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_tls_files(directory):
    """Write ``ca.pem`` (a new CA), ``cert.pem`` and ``key.pem`` (127.0.0.1, signed by it)."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = _certificate("exitkit test CA", ca_key, None, None, ca=True)
    server = _certificate("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "cert.pem").write_bytes(server.public_bytes(pem))
    (directory / "key.pem").write_bytes(server_key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return directory / "ca.pem"


class TLSMotoServer(MotoServer):
    """moto_server serving HTTPS with the given certificate and key."""

    def __init__(self, cert, key) -> None:
        super().__init__()
        self.cert, self.key = cert, key

    def command(self) -> list[str]:
        """moto's server with ``--ssl-cert`` and ``--ssl-key``."""
        return [*super().command(), "--ssl-cert", str(self.cert), "--ssl-key", str(self.key)]

    @property
    def endpoint(self) -> str:
        """The HTTPS endpoint."""
        return f"https://127.0.0.1:{self.port}"


# -- a forward proxy -----------------------------------------------------------------------------

class ForwardProxy(socketserver.ThreadingTCPServer):
    """A threaded HTTP forward proxy on loopback that demands Basic proxy credentials (407
    otherwise), tunnels ``CONNECT host:port`` and forwards absolute-URL requests. Records
    ``connections`` (accepted), ``connects`` (targets), ``forwarded`` (request lines),
    ``proxy_auth`` (decoded credentials of each request) and ``tunnelled`` (bytes the
    client sent into tunnels)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.credentials = f"{user}:{password}"
        self.connections = 0
        self.connects: list[str] = []
        self.forwarded: list[str] = []
        self.proxy_auth: list[str | None] = []
        self.refused = 0
        self.tunnelled = bytearray()
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, user: str = PROXY_USER, password: str = PROXY_PASSWORD_IN_URL) -> str:
        """The proxy's URL with credentials, as an ``*_PROXY`` variable holds it."""
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def seen(self) -> int:
        """Requests of any kind the proxy received."""
        return len(self.connects) + len(self.forwarded) + self.refused

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te",
               "trailer", "transfer-encoding", "upgrade"}


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ForwardProxy

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _authorised(self) -> bool:
        header = self.headers.get("Proxy-Authorization")
        decoded = None
        if header and header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
        with self.server.lock:
            self.server.proxy_auth.append(decoded)
        if decoded == self.server.credentials:
            return True
        with self.server.lock:
            self.server.refused += 1
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="exitkit-test"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_CONNECT(self) -> None:
        if not self._authorised():
            return
        with self.server.lock:
            self.server.connects.append(self.path)
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        client = self.connection
        try:
            while True:
                readable, _, _ = select.select([client, upstream], [], [], 30)
                if not readable:
                    return
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
                    if source is client:
                        with self.server.lock:
                            self.server.tunnelled += data
        finally:
            upstream.close()

    def _forward(self) -> None:
        if not self._authorised():
            return
        with self.server.lock:
            self.server.forwarded.append(self.requestline)
        url = urlsplit(self.path)
        if url.scheme != "http":  # a proxy only forwards absolute URLs
            self.send_error(400, "absolute URL required")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            upstream.request(self.command, url.path + (f"?{url.query}" if url.query else ""),
                             body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            length = answer.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            upstream.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward


# -- an estate with variety -----------------------------------------------------------------------

_FOLDERS = ["logs/2026/03", "bäckerei/κλειδί", "media/raw footage", "exports/a b+c", "年度/報告",
            "data/x=1&y=2", "tmp/~draft"]
_KINDS = [  # name suffix, content type, how the body is made, content encoding
    (".json.gz", "application/json", "gzip", "gzip"),
    (".csv", "text/csv", "text", None),
    (".bin", "application/octet-stream", "random", None),
    (".txt", "text/plain; charset=utf-8", "text", None),
]


def estate(seed: int, count: int) -> dict[str, dict]:
    """*count* varied objects by key (body as stored, content type, encoding, metadata),
    plus an empty marker and one multi-MiB object."""
    rng = random.Random(seed)
    objects = {}
    for index in range(count):
        suffix, content_type, make, encoding = rng.choice(_KINDS)
        key = f"{rng.choice(_FOLDERS)}/{index:03d}-{rng.choice(['report', 'Ünïcode', 'x%20y'])}" \
              f"{suffix}"
        size = rng.choice([1, 17, 1023, 4096, 70_001])
        if make == "random":
            body = rng.randbytes(size)
        else:
            text = json.dumps([{"row": n, "value": rng.random(), "name": "Zoë ☃"}
                               for n in range(size // 40 + 1)])
            body = gzip.compress(text.encode(), mtime=0) if make == "gzip" else text.encode()
        metadata = {"owner": rng.choice(["ops", "finance", "ml-team"]),
                    "source-system": f"sys-{rng.randrange(100)}"} if rng.random() < 0.6 else {}
        objects[key] = {"body": body, "content_type": content_type, "encoding": encoding,
                        "metadata": metadata}
    objects["markers/.keep"] = {"body": b"", "content_type": "application/x-directory",
                                "encoding": None, "metadata": {}}
    objects["media/clip-01.mov"] = {"body": rng.randbytes(6 * 1024 * 1024 + 123),
                                    "content_type": "video/quicktime", "encoding": None,
                                    "metadata": {"camera": "A"}}
    return objects


def boto_client(server, ca_file=None):
    """boto3 as an independent client (never through an environment proxy)."""
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1",
        verify=str(ca_file) if ca_file else None,
        config=Config(s3={"addressing_style": "path"}, proxies={},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"))


def seed(client, bucket: str, objects: dict[str, dict]) -> None:
    """Store *objects* and check boto3 reads back the stored bytes."""
    client.create_bucket(Bucket=bucket)
    for key, obj in objects.items():
        extra = {"ContentEncoding": obj["encoding"]} if obj["encoding"] else {}
        client.put_object(Bucket=bucket, Key=key, Body=obj["body"],
                          ContentType=obj["content_type"], Metadata=obj["metadata"], **extra)
    for key, obj in objects.items():
        stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert sha256(stored) == sha256(obj["body"]), key


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_everything(source, objects: dict[str, dict]) -> None:
    """List, HEAD and GET every object through exitkit; each must match what was stored."""
    listed = {info.key: info.size for info in source.list()}
    assert listed == {key: len(obj["body"]) for key, obj in objects.items()}
    for key, obj in objects.items():
        info = source.head(key)
        assert info.size == len(obj["body"]), key
        assert info.attributes.content_type == obj["content_type"]
        assert info.attributes.headers.get("content-encoding") == obj["encoding"]
        assert info.attributes.metadata == obj["metadata"]
        with source.open(key) as stream:
            body = b"".join(stream.chunks)
        assert len(body) == len(obj["body"]) and sha256(body) == sha256(obj["body"]), key


def s3_source(server, bucket: str):
    return open_source(Endpoint(provider="aws-s3", endpoint=server.endpoint, region="us-east-1",
                                bucket=bucket, credentials=CREDS),
                       Keys(SecretStr(server.access_key), SecretStr(server.secret_key)))


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    """Every proxy variable unset, in both cases, for each test to set its own."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """An HTTPS moto_server, its CA file, and a bucket of varied objects on it."""
    directory = tmp_path_factory.mktemp("tls")
    ca_file = make_tls_files(directory)
    objects = estate(seed=2026, count=24)
    with TLSMotoServer(directory / "cert.pem", directory / "key.pem") as server:
        seed(boto_client(server, ca_file), "tls-estate", objects)
        yield server, ca_file, "tls-estate", objects


@pytest.fixture(scope="module")
def plain(moto):
    """A bucket of varied objects on the session's plain-HTTP moto_server."""
    objects = estate(seed=17, count=16)
    bucket = f"proxied-{random.randrange(10**9)}"
    seed(boto_client(moto), bucket, objects)
    return moto, bucket, objects


@pytest.fixture
def proxy():
    with ForwardProxy(PROXY_USER, PROXY_PASSWORD) as server:
        yield server


@pytest.fixture
def decoy():
    """A second proxy, named for the scheme the endpoint does not use."""
    with ForwardProxy(PROXY_USER, PROXY_PASSWORD) as server:
        yield server


# -- HTTPS ----------------------------------------------------------------------------------------

def test_https_reads_every_object_as_stored_when_the_ca_is_trusted(tls, monkeypatch):
    """With libcloud's CA bundle pointing at the test CA, list, HEAD and GET over TLS
    return every object's stored bytes (a gzip body stays gzip)."""
    server, ca_file, bucket, objects = tls
    monkeypatch.setattr(libcloud.security, "CA_CERTS_PATH", str(ca_file))
    read_everything(s3_source(server, bucket), objects)


def test_https_with_an_untrusted_certificate_fails_naming_the_operation(tls, monkeypatch):
    """Against the system CAs the test certificate is refused: one error that names the
    request and holds no secret. With libcloud's VERIFY_SSL_CERT off, the same read works."""
    server, _, bucket, objects = tls
    key = next(key for key in objects if objects[key]["encoding"] == "gzip")
    with pytest.raises((TransientError, PermanentError)) as caught:
        s3_source(server, bucket).head(key)
    message = str(caught.value)
    assert isinstance(caught.value, PermanentError)  # retrying cannot make it trusted
    assert message.startswith(f"HEAD {key}: the endpoint's TLS certificate is not trusted")
    assert server.secret_key not in message and server.access_key not in message
    monkeypatch.setattr(libcloud.security, "VERIFY_SSL_CERT", False)
    with s3_source(server, bucket).open(key) as stream:
        assert b"".join(stream.chunks) == objects[key]["body"]


# -- proxies --------------------------------------------------------------------------------------

def test_https_goes_through_an_authenticated_connect_tunnel(tls, proxy, decoy, monkeypatch):
    """HTTPS_PROXY with percent-encoded credentials: every request goes through CONNECT
    tunnels to the endpoint; the proxy sees the credentials it needs and never the
    request's signature. HTTP_PROXY (a decoy) is not used for an HTTPS endpoint."""
    server, ca_file, bucket, objects = tls
    monkeypatch.setattr(libcloud.security, "CA_CERTS_PATH", str(ca_file))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    monkeypatch.setenv("http_proxy", decoy.url())
    read_everything(s3_source(server, bucket), objects)
    assert proxy.connects and set(proxy.connects) == {f"127.0.0.1:{server.port}"}
    assert proxy.forwarded == [] and proxy.refused == 0
    assert set(proxy.proxy_auth) == {f"{PROXY_USER}:{PROXY_PASSWORD}"}
    assert len(proxy.tunnelled) > 0
    assert SIGNATURE_MARK not in proxy.tunnelled
    assert server.access_key.encode() not in proxy.tunnelled
    assert decoy.seen() == 0


def test_plain_http_is_forwarded_with_absolute_urls(plain, proxy, decoy, monkeypatch):
    """HTTP_PROXY: every request reaches the proxy with the endpoint's absolute URL and
    the proxy credentials, over one kept-alive connection to the proxy (requests in
    turn), and the objects read back byte-identical. HTTPS_PROXY (a decoy) is not used
    for a plain-HTTP endpoint."""
    server, bucket, objects = plain
    monkeypatch.setenv("http_proxy", proxy.url())
    monkeypatch.setenv("HTTPS_PROXY", decoy.url())
    read_everything(s3_source(server, bucket), objects)
    assert proxy.connects == [] and proxy.refused == 0
    origin = f"http://127.0.0.1:{server.port}/{bucket}"
    targets = [line.split(" ")[1] for line in proxy.forwarded]
    assert targets and all(target.startswith(origin) for target in targets)
    methods = [line.split(" ")[0] for line in proxy.forwarded]
    assert methods.count("HEAD") == methods.count("GET") - 1 == len(objects)  # + one listing
    assert set(proxy.proxy_auth) == {f"{PROXY_USER}:{PROXY_PASSWORD}"}
    assert proxy.connections == 1 and decoy.seen() == 0


@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
def test_no_proxy_reaches_the_endpoint_directly(plain, tls, proxy, monkeypatch, variable):
    """An endpoint host listed in NO_PROXY (either case) is reached directly, over HTTP
    and HTTPS: the proxy sees nothing."""
    server, bucket, objects = plain
    tls_server, ca_file, tls_bucket, tls_objects = tls
    monkeypatch.setattr(libcloud.security, "CA_CERTS_PATH", str(ca_file))
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    monkeypatch.setenv(variable, "example.internal,127.0.0.1")
    key = "media/clip-01.mov"
    for source_server, source_bucket, estate_objects in (
            (server, bucket, objects), (tls_server, tls_bucket, tls_objects)):
        source = s3_source(source_server, source_bucket)
        assert source.head(key).size == len(estate_objects[key]["body"])
        with source.open(key) as stream:
            assert sha256(b"".join(stream.chunks)) == sha256(estate_objects[key]["body"])
    assert proxy.seen() == 0


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_wrong_proxy_credentials_fail_without_leaking_them(plain, tls, proxy, monkeypatch,
                                                          scheme):
    """The proxy refuses a wrong password (407): the read fails with one error naming the
    request, holding neither the proxy password nor the S3 secret."""
    server, ca_file, bucket, _ = tls
    if scheme == "http":
        server, bucket, _ = plain
    monkeypatch.setattr(libcloud.security, "CA_CERTS_PATH", str(ca_file))
    monkeypatch.setenv(f"{scheme.upper()}_PROXY", proxy.url(password="not-the-password"))
    key = "markers/.keep"
    with pytest.raises((TransientError, PermanentError)) as caught:
        with s3_source(server, bucket).open(key) as stream:
            b"".join(stream.chunks)
    message = str(caught.value)
    assert isinstance(caught.value, PermanentError)
    assert message == (f"GET {key}: the proxy refused the request (HTTP 407); check the "
                       f"credentials in HTTP_PROXY/HTTPS_PROXY")
    assert server.secret_key not in message
    assert proxy.refused == 1 and proxy.connects == [] and proxy.forwarded == []


def test_a_proxy_named_without_a_scheme_is_an_http_proxy(plain, proxy, monkeypatch):
    """HTTP_PROXY=user:password@host:port (no scheme, as curl and requests accept it)
    reaches that proxy."""
    server, bucket, objects = plain
    monkeypatch.setenv("HTTP_PROXY", proxy.url().split("://", 1)[1])
    key = "media/clip-01.mov"
    with s3_source(server, bucket).open(key) as stream:
        assert sha256(b"".join(stream.chunks)) == sha256(objects[key]["body"])
    assert len(proxy.forwarded) == 1 and proxy.refused == 0


@pytest.mark.parametrize("proxy_url", ["socks5://127.0.0.1:1080", "https://127.0.0.1:3129"])
def test_a_proxy_spoken_to_over_tls_or_socks_is_refused_naming_the_variable(
        plain, monkeypatch, proxy_url):
    """A proxy the transport cannot speak to is bad input: one EndpointError naming the
    variable, before any request."""
    server, bucket, _ = plain
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    with pytest.raises(EndpointError) as caught:
        s3_source(server, bucket)
    scheme = proxy_url.split(":", 1)[0]
    assert str(caught.value) == (f"HTTP_PROXY: {scheme}:// proxies are not supported; name "
                                 f"an http:// proxy (it tunnels HTTPS)")
