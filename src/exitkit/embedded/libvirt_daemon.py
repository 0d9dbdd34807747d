"""A private libvirt daemon (libvirtd with its own virtlogd) for demos and tests.

Neither needs systemd. The two run as root in a mount namespace of their own (``unshare
--mount``) in which libvirt's configuration, runtime, state, log and cache directories
are bind mounts of a fresh work directory: several can run on one machine, each with its
own socket (``<workdir>/run/libvirt-sock``) and domains, and nothing outside the work
directory is written. QEMU runs as root (``user = "root"`` in ``qemu.conf``) with no
security driver. libvirt's QEMU driver looks its build-time user ``libvirt-qemu`` up
before it reads ``qemu.conf`` and refuses to start without it, so the namespace also sees
private copies of ``/etc/passwd`` and ``/etc/group`` that add it when the machine lacks
it. Stopping destroys every domain still running there, then ends both daemons (the
shell that started them stops and reaps each) and removes the work directory.
"""

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from exitkit.embedded.containers import require
from exitkit.errors import ExitkitError
from exitkit.providers.libvirt_compute import binding

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
#: libvirt's directories, each replaced by a private one (name in the work directory)
PRIVATE_DIRS = {"/etc/libvirt": "etc", "/run/libvirt": "run", "/var/lib/libvirt": "lib",
                "/var/log/libvirt": "log", "/var/cache/libvirt": "cache"}
QEMU_USER = "libvirt-qemu"
QEMU_CONF = 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\nsecurity_driver = "none"\n'
LIBVIRTD_CONF = 'auth_unix_rw = "none"\nauth_unix_ro = "none"\nunix_sock_rw_perms = "0700"\n'


class LibvirtDaemon:
    """libvirtd and virtlogd in a private mount namespace; a context manager."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="exitkit-libvirt-"))
        self.process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        """libvirtd's read-write socket, as seen from outside the namespace."""
        return self.workdir / "run" / "libvirt-sock"

    @property
    def uri(self) -> str:
        """The connection URI (``qemu:///system?socket=...``) a drill's target names."""
        return f"qemu:///system?socket={self.socket}"

    def start(self) -> None:
        """Start virtlogd and libvirtd, and wait until libvirtd answers on its socket."""
        binding()
        if os.geteuid() != 0:
            raise ExitkitError("the private libvirt daemon runs as root (it needs a mount "
                               "namespace); run as root or with sudo")
        unshare = require("unshare", "util-linux")
        libvirtd, virtlogd = (require(name, "libvirt-daemon") for name in ("libvirtd",
                                                                            "virtlogd"))
        for system_dir, name in PRIVATE_DIRS.items():
            Path(system_dir).mkdir(parents=True, exist_ok=True)  # mount points
            (self.workdir / name).mkdir()
        (self.workdir / "etc" / "qemu.conf").write_text(QEMU_CONF)
        (self.workdir / "etc" / "libvirtd.conf").write_text(LIBVIRTD_CONF)
        binds = {**{str(self.workdir / name): system_dir
                    for system_dir, name in PRIVATE_DIRS.items()}, **self._accounts()}
        mounts = "; ".join(f"mount --bind {shlex.quote(private)} {system}"
                           for private, system in binds.items())
        # sh stays the parent of both daemons and reaps them: on SIGTERM it stops libvirtd,
        # then virtlogd, and waits for each
        script = (f"set -e; {mounts}; {virtlogd} & logd=$!; "
                  f"{libvirtd} --config /etc/libvirt/libvirtd.conf & daemon=$!; "
                  "trap 'kill $daemon; wait $daemon; kill $logd; wait $logd; exit 0' TERM; "
                  "wait $daemon; kill $logd; wait $logd")
        log = (self.workdir / "daemon.log").open("wb")
        self.process = subprocess.Popen(
            [unshare, "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None:
                tail = (self.workdir / "daemon.log").read_text(errors="replace").strip()
                self.stop()
                last = " ".join(tail.splitlines()[-1:])
                raise ExitkitError(f"libvirtd exited at start: {last}")
            if time.monotonic() > deadline:
                self.stop()
                raise ExitkitError("libvirtd did not answer on its socket in time")
            time.sleep(0.2)

    def _accounts(self) -> dict[str, str]:
        """Private ``/etc/passwd`` and ``/etc/group`` with QEMU's user and group, when the
        machine lacks them (private copy: system file)."""
        binds = {}
        for system, line in (("/etc/passwd", f"{QEMU_USER}:x:64055:64055::/nonexistent:/bin/false"),
                             ("/etc/group", f"{QEMU_USER}:x:64055:\nkvm:x:108:")):
            text = Path(system).read_text()
            names = {entry.split(":")[0] for entry in text.splitlines()}
            missing = [entry for entry in line.split("\n") if entry.split(":")[0] not in names]
            if missing:
                private = self.workdir / Path(system).name
                private.write_text(text.rstrip("\n") + "\n" + "\n".join(missing) + "\n")
                binds[str(private)] = system
        return binds

    def _answers(self) -> bool:
        libvirt = binding()
        if not self.socket.exists():
            return False
        try:
            libvirt.open(self.uri).close()
        except libvirt.libvirtError:
            return False
        return True

    def destroy_all(self) -> list[str]:
        """Destroy and undefine every domain of this daemon; return their names."""
        removed = []
        connection = binding().open(self.uri)
        try:
            for domain in connection.listAllDomains():
                removed.append(domain.name())
                persistent = domain.isPersistent()
                if domain.isActive():
                    domain.destroy()
                if persistent:
                    domain.undefine()
        finally:
            connection.close()
        return removed

    def stop(self) -> None:
        """Destroy what still runs, stop both daemons and remove the work directory."""
        if self.process and self.process.poll() is not None:
            _kill_group(self.process.pid)  # virtlogd outlives a libvirtd that failed
        elif self.process:
            try:
                self.destroy_all()
            except Exception:  # noqa: BLE001 - the daemon is going away regardless
                pass
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            _kill_group(self.process.pid)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "LibvirtDaemon":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _kill_group(group: int) -> None:
    """End what is left of a process group (SIGTERM); no error when it is gone."""
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        pass
