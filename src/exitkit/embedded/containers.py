"""Container infrastructure on loopback for workload drills: OCI registries (Debian's
``docker-registry``), Podman's Docker-compatible API service, and a small web image built
locally from Debian's static busybox (no registry pulls).

Used by ``exitkit demo --with-workload`` and the test suite.
"""

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from exitkit.embedded.servers import LoopbackServer
from exitkit.errors import ExitkitError

BUSYBOX = "/bin/busybox"
WEB_PORT = 8080
BUSYBOX_APPLETS = ("sh", "httpd", "wget", "cat", "printf", "rm", "echo")
DATA_CGI = """#!/bin/sh
# Serve one object of the migrated bucket: /cgi-bin/data/<key> -> $EXITKIT_DATA_URL<key>
object=/tmp/object.$$
if wget -q -O "$object" "$EXITKIT_DATA_URL${PATH_INFO#/}"; then
    printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'
    cat "$object"
else
    printf 'Status: 404 Not Found\\r\\nContent-Type: text/plain\\r\\n\\r\\nnot found\\n'
fi
rm -f "$object"
"""
INDEX_HTML = "<!doctype html><title>exitkit web</title><p>exitkit demo site is up</p>\n"


def require(tool: str, package: str) -> str:
    """The path of *tool*, or an error naming the Debian package that provides it."""
    found = shutil.which(tool)
    if not found:
        raise ExitkitError(f"{tool} not found; workload drills on loopback need it "
                           f"(Debian/Ubuntu: apt-get install {package})")
    return found


class RegistryServer(LoopbackServer):
    """An OCI distribution registry (plain HTTP on loopback) storing into its work dir."""

    name = "registry"

    @property
    def host(self) -> str:
        """``host:port`` as image references name it."""
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """``docker-registry serve`` with a config written beside the data."""
        config = self.workdir / "config.yml"
        config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n"
                          f"    rootdirectory: {self.workdir / 'data'}\n"
                          f"  delete:\n    enabled: true\n"
                          f"http:\n  addr: 127.0.0.1:{self.port}\n")
        return [require("docker-registry", "docker-registry"), "serve", str(config)]


class PodmanService(LoopbackServer):
    """Podman's Docker Engine API on loopback TCP (and a unix socket for testcontainers),
    trusting the given plain-HTTP registries."""

    name = "podman"

    def __init__(self, insecure_registries: list[str], unix_socket: bool = False) -> None:
        self.insecure_registries = insecure_registries
        self.unix_socket = unix_socket
        super().__init__()

    @property
    def url(self) -> str:
        """The API's URL (``http://127.0.0.1:PORT``) as a drill's runtime names it."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_path(self) -> Path:
        """The unix socket, when the service listens on one."""
        return self.workdir / "podman.sock"

    def command(self) -> list[str]:
        """``podman system service`` that never times out."""
        listen = f"unix://{self.socket_path}" if self.unix_socket else f"tcp:127.0.0.1:{self.port}"
        return [require("podman", "podman"), "system", "service", "--time=0", listen]

    def environment(self) -> dict[str, str]:
        """Point Podman at a registries.conf that trusts the loopback registries."""
        conf = self.workdir / "registries.conf"
        conf.write_text("".join(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n\n'
                                for host in self.insecure_registries))
        return {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf)}

    def ready(self) -> bool:
        """The TCP port answers, or the unix socket exists."""
        return self.socket_path.exists() if self.unix_socket else super().ready()


def web_image_rootfs() -> bytes:
    """A root file system (tar) with busybox, its httpd, a page and a CGI script that
    serves objects of the migrated bucket."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "tmp", "www", "www/cgi-bin"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, "bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for name, text, mode in (("www/index.html", INDEX_HTML, 0o644),
                                 ("www/cgi-bin/data", DATA_CGI, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(text.encode()), mode
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def build_web_image(registry_host: str, repository: str = "exitkit/web", tag: str = "1") -> str:
    """Build the web image with ``podman import`` and push it to *registry_host*;
    return its reference there."""
    if not Path(BUSYBOX).exists():
        raise ExitkitError(f"{BUSYBOX} not found (Debian/Ubuntu: apt-get install busybox-static)")
    local = f"localhost/{repository}:{tag}"
    reference = f"{registry_host}/{repository}:{tag}"
    change = f'CMD ["/bin/httpd", "-f", "-p", "{WEB_PORT}", "-h", "/www"]'
    _run([require("podman", "podman"), "import", "--change", change, "-", local],
         web_image_rootfs())
    _run([require("skopeo", "skopeo"), "copy", "--dest-tls-verify=false",
          f"containers-storage:{local}", f"docker://{reference}"])
    return reference


def _run(command: list[str], stdin: bytes | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True)
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise ExitkitError(f"{Path(command[0]).name} {command[1]} failed: {' '.join(tail)}")
