"""A real RFC 3161 time-stamping authority on loopback: OpenSSL's ``openssl ts -reply``
behind a small HTTP server, with a test CA made on the spot.

Used by the tests and by ``exitkit demo --with-tsa``. The CA and the TSA certificate
(critical extended key usage ``timeStamping``, as RFC 3161 asks) are generated into the
server's directory; ``ca_file`` is the trust anchor ``exitkit audit verify --tsa-ca``
takes. Nothing leaves loopback.
"""

import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exitkit.errors import ExitkitError

_CONFIG = """\
[ tsa ]
default_tsa = exitkit_tsa
[ exitkit_tsa ]
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class TsaFiles:
    """The test CA's certificate (the trust anchor) and the TSA's certificate and key."""

    ca_file: Path
    tsa_cert: Path
    tsa_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exitkit test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_test_ca(directory: Path) -> TsaFiles:
    """A CA and a TSA certificate it issued (EKU timeStamping, critical), as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name("exitkit test TSA root"))
               .issuer_name(_name("exitkit test TSA root")).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                            False, False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = (x509.CertificateBuilder().subject_name(_name("exitkit test TSA"))
                .issuer_name(ca_cert.subject).public_key(tsa_key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                               critical=True)
                .sign(ca_key, hashes.SHA256()))
    files = TsaFiles(directory / "ca.pem", directory / "tsa.pem", directory / "tsa.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.tsa_cert.write_bytes(tsa_cert.public_bytes(serialization.Encoding.PEM))
    files.tsa_key.write_bytes(tsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    files.tsa_key.chmod(0o600)
    return files


class LocalTsa:
    """An RFC 3161 TSA on a free loopback port; a context manager that starts and stops it.

    Each POST of an ``application/timestamp-query`` is answered by ``openssl ts -reply``
    (one at a time: OpenSSL keeps the serial number in a file).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="exitkit-tsa-"))
        known = TsaFiles(self.directory / "ca.pem", self.directory / "tsa.pem",
                         self.directory / "tsa.key")
        reused = all(path.is_file() for path in (known.ca_file, known.tsa_cert, known.tsa_key))
        self.files = known if reused else make_test_ca(self.directory)  # older tokens verify
        if not (self.directory / "serial").is_file():
            (self.directory / "serial").write_text("01\n")
        self.config = self.directory / "tsa.cnf"
        self.config.write_text(_CONFIG.format(dir=self.directory))
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The TSA's endpoint."""
        assert self._server is not None, "the TSA is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    def reply(self, query: bytes) -> bytes:
        """The DER time-stamp response OpenSSL gives to *query*."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as scratch:
            query_file, reply_file = Path(scratch, "query.tsq"), Path(scratch, "reply.tsr")
            query_file.write_bytes(query)
            done = subprocess.run(["openssl", "ts", "-reply", "-config", str(self.config),
                                   "-queryfile", str(query_file), "-out", str(reply_file)],
                                  capture_output=True, timeout=30, check=False)
            if done.returncode != 0:
                raise ExitkitError(f"openssl ts -reply failed: "
                                   f"{done.stderr.decode(errors='replace').strip()[:200]}")
            self.requests += 1
            return reply_file.read_bytes()

    def __enter__(self) -> "LocalTsa":
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body, status = tsa.reply(query), 200
                except ExitkitError:
                    body, status = b"", 500
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                """Quiet: the TSA's requests are not the operator's business."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="exitkit-tsa").start()
        return self

    def __exit__(self, *_exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
