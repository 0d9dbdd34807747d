"""The VM moves phase: create each planned VM on the target, boot it, judge it, and
always remove it again.

Per VM of ``vms.move`` (after the plan, whose target size, volumes, prices and user-data
digest it uses):

* ``rebuild``: the declared base image (kernel and initrd) boots with a fresh disk of the
  planned size and the source's user data, read again from the source and handed over
  in a cloud-init NoCloud seed;
* ``import``: the disk exported from the source is converted to qcow2 with ``qemu-img``
  (and proven identical with ``qemu-img compare``), grown to the planned size and booted
  with the same seed. A drill starts no export on its source (exporting writes there);
  without an exported disk the record says whether and why the source cannot export.

Then: remove domains an interrupted run of this VM left behind, create and start the
domain (:mod:`exitkit.providers.libvirt_compute`), measure boot time (create to the boot
marker on the serial console) and time to healthy (create to the first passing HTTP or
TCP check), fetch migrated objects through the VM and compare their SHA-256 with the
target bucket's, and tear down, also after a failure or Ctrl-C: the domain destroyed and
undefined, its disks and seed removed, and the target asked again.
"""

import hashlib
import math
import re
import shlex
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from exitkit.drill.events import DrillObserver
from exitkit.drill.spec_file import Keys
from exitkit.drill.vm_plan import source_url
from exitkit.drill.vm_spec import VmMove, VmSection
from exitkit.drill.workloads import MigratedData
from exitkit.errors import EndpointError, ExitkitError
from exitkit.evidence.vm_move_record import (ExportState, ImageFile, UserDataCarried, VmImage,
                                             VmMonthlyCost, VmMoveRecord, VmSizing,
                                             VmTeardownRecord)
from exitkit.evidence.vm_record import VmPlan, VmPlanEntry
from exitkit.providers import disk_images
from exitkit.providers.compute import ComputeTarget, Disk, MachineSpec
from exitkit.providers.ec2 import Ec2Inventory, open_ec2
from exitkit.providers.libvirt_compute import LibvirtTarget
from exitkit.redaction import register_secret, scrub
from exitkit.verify.health import http_probe, tcp_probe, wait_healthy
from exitkit.verify.served_data import check_served_data

PHASE = "vm-moves"
GIB = 1024 ** 3
CONSOLE_POLL_S = 0.1
CONSOLE_TAIL_LINES = 8
USER_DATA_WORD = 8  # shorter words of the user data are too common to scrub


@dataclass
class VmMovesPhase:
    """Moves the VMs a drill's ``vms.move`` names to ``vms.target``."""

    drill: str
    run_id: str
    section: VmSection
    spec_dir: Path
    keys: Keys
    observer: DrillObserver
    data: MigratedData | None = None
    target: ComputeTarget | None = field(default=None, init=False)

    def preflight(self) -> None:
        """Fail before any copying when the tools are missing or the target does not answer."""
        disk_images.tool("qemu-img", "qemu-utils")
        disk_images.tool("genisoimage", "genisoimage")
        settings = self.section.target
        self.target = LibvirtTarget(settings.uri, settings.domain_type)

    def run(self, plan: VmPlan) -> list[VmMoveRecord]:
        """Move every VM in order against *plan*; return their records."""
        if self.target is None:
            self.preflight()
        inventory = open_ec2(source_url(self.section.source), self.section.source.region,
                             self.keys)
        self.observer.phase_started(PHASE, len(self.section.move), None)
        records = []
        for move in self.section.move:
            records.append(self._move(move, plan, inventory))
            self.observer.advanced(PHASE, 1, 0)
        self.observer.phase_finished(PHASE)
        return records

    def _move(self, move: VmMove, plan: VmPlan, inventory: Ec2Inventory) -> VmMoveRecord:
        settings = self.section.target
        record = VmMoveRecord(vm=move.vm, instance_id=None, strategy=move.strategy,
                              status="error", target=self.target.label,
                              domain_type=settings.domain_type)
        entry = next((vm for vm in plan.vms if move.vm in (vm.id, vm.name)), None)
        if entry is None:
            record.errors.append(f"VM {move.vm} is not in the plan (check vms.filters)")
            return record
        record.instance_id, record.vm = entry.id, entry.name
        record.cost = _monthly_cost(entry)
        prefix = f"exitkit-{self.drill}-{_slug(entry.name)}-"
        domain = f"{prefix}{self.run_id[:8]}"
        workdir = Path(settings.workdir) if settings.workdir else Path(tempfile.gettempdir())
        files = workdir / domain
        stale = 0
        try:
            if entry.target_size is None:
                raise ExitkitError(f"VM {entry.name} has no target size in the plan "
                                   f"({'; '.join(b.detail for b in entry.blockers) or 'unsized'})")
            if move.strategy == "import" and move.disk is None:
                record.export = _not_exported(*inventory.export_support())
                record.status = "not-exported"
                return record
            machine = self._prepare(move, entry, inventory, record, domain, files)
            stale = self._remove_all(prefix)
            self._boot_and_check(move, machine, record)
        except ExitkitError as exc:  # EndpointError included
            record.errors.append(str(exc))
        finally:
            if record.status != "not-exported":
                record.teardown = self._teardown(domain, files, stale, entry.name)
        return record

    def _prepare(self, move: VmMove, entry: VmPlanEntry, inventory: Ec2Inventory,
                 record: VmMoveRecord, domain: str, files: Path) -> MachineSpec:
        """Disk, size and NoCloud seed in *files*; the machine to create (fills *record*)."""
        files.mkdir(parents=True, exist_ok=False)
        user_data = inventory.user_data(entry.id)
        _keep_out_of_output(user_data)
        record.user_data = _carried(user_data, entry)
        disk, record.image, record.export = self._disk(move, files)
        record.sizing = _sizing(entry, disk)
        disk_images.grow(disk, record.sizing.disk_gib * GIB)
        seed = files / "seed.iso"
        disk_images.nocloud_seed(seed, f"instance-id: {entry.id}\nlocal-hostname: "
                                       f"{_slug(entry.name)}\n", user_data,
                                 {"exitkit-data.env": self._data_env()})
        return MachineSpec(
            name=domain, vcpus=record.sizing.vcpus, memory_mib=record.sizing.memory_mib,
            disks=(Disk(disk, "qcow2"), Disk(seed, "raw", read_only=True)),
            kernel=self._path(move.boot.kernel), initrd=self._path(move.boot.initrd),
            cmdline=move.boot.cmdline, address=self.section.target.address,
            forwards={port.guest: port.host for port in move.ports},
            console_log=files / "console.log")

    def _boot_and_check(self, move: VmMove, machine: MachineSpec, record: VmMoveRecord) -> None:
        """Create and start the machine, time its boot, wait for health, check the data."""
        watcher = _ConsoleWatcher(machine.console_log, move.boot_marker)
        started = time.monotonic()
        watcher.start(started)
        try:
            record.domain = self.target.create(machine)
            record.health, healthy_after = wait_healthy(
                self._probe(move), move.health,
                lambda: None if self.target.running(machine.name) else "the domain stopped",
                started)
        finally:
            watcher.stop()
        record.boot_s = watcher.seen_after
        record.time_to_healthy_s = healthy_after and round(healthy_after, 3)
        if record.health.passed and move.data is not None and self.data is not None:
            record.data = check_served_data(self.data.store, self.data.prefix, move.data,
                                            self._base_url(move, move.data.port))
        record.status = "healthy" if record.health.passed else "unhealthy"
        if not record.health.passed:
            record.console_tail = _tail(machine.console_log)

    def _disk(self, move: VmMove, files: Path) -> tuple[Path, VmImage, ExportState | None]:
        """The VM's disk (qcow2, in *files*), what it was made from, and the export state."""
        disk = files / "disk.qcow2"
        if move.strategy == "rebuild":
            kernel, initrd = self._path(move.boot.kernel), self._path(move.boot.initrd)
            disk_images.blank(disk, GIB)
            return disk, VmImage(kind="kernel+initrd", files=[
                _image_file("kernel", kernel), _image_file("initrd", initrd)]), None
        exported = self._path(move.disk.path)
        source = _image_file("exported-disk", exported)
        disk_images.convert(exported, move.disk.format, disk)
        verified = disk_images.identical(exported, move.disk.format, disk, "qcow2")
        if not verified:
            raise ExitkitError(f"the converted disk of {move.vm} differs from the export "
                               f"{exported} (qemu-img compare)")
        boot = [_image_file("kernel", self._path(move.boot.kernel)),
                _image_file("initrd", self._path(move.boot.initrd))]
        image = VmImage(kind="disk", files=[source, _image_file("converted-disk", disk), *boot],
                        source_format=move.disk.format, conversion_verified=verified)
        return disk, image, ExportState(available=True, detail=f"exported disk {exported} "
                                        f"({move.disk.format}) named in the spec")

    def _path(self, name: str) -> Path:
        path = Path(name)
        path = path if path.is_absolute() else self.spec_dir / path
        if not path.is_file():
            raise ExitkitError(f"{path}: no such file")
        return path.resolve()

    def _data_env(self) -> str:
        """The migrated data's location as shell assignments (no credentials)."""
        env = dict(self.data.env) if self.data else {}
        return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items()))

    def _base_url(self, move: VmMove, guest_port: int) -> str:
        host = next(port.host for port in move.ports if port.guest == guest_port)
        return f"http://{self.section.target.address}:{host}"

    def _probe(self, move: VmMove):
        check = move.health
        if check.http is not None:
            return http_probe(self._base_url(move, check.http.port) + check.http.path,
                              check.http.status, check.http.body_contains)
        host = next(port.host for port in move.ports if port.guest == check.tcp.port)
        return tcp_probe(self.section.target.address, host)

    def _remove_all(self, prefix: str) -> int:
        removed = 0
        for name in self.target.names(prefix):
            removed += self.target.remove(name)
        return removed

    def _teardown(self, domain: str, files: Path, stale: int, vm: str) -> VmTeardownRecord:
        """Remove this run's domain and files, then ask the target again."""
        problems, removed, remaining = [], False, None
        try:
            removed = self.target.remove(domain)
            remaining = len(self.target.names(domain))
        except EndpointError as exc:
            problems.append(str(exc))
        disks = sum(1 for path in files.glob("*") if path.is_file()) if files.exists() else 0
        shutil.rmtree(files, ignore_errors=True)
        files_left = sum(1 for _ in files.rglob("*")) + 1 if files.exists() else 0
        done = remaining == 0 and files_left == 0
        detail = scrub("; ".join(problems)) if problems else (
            f"{'domain destroyed and undefined' if removed else 'no domain to remove'}, "
            f"{disks} file(s) removed, {remaining} domain(s) left")
        self.observer.noted(PHASE, f"{vm}: teardown {'done' if done else 'FAILED'} ({detail})")
        return VmTeardownRecord(done=done, domain_removed=removed, stale_removed=stale,
                                disks_removed=disks, remaining_domains=remaining,
                                remaining_files=files_left, detail=detail)


class _ConsoleWatcher:
    """Watches the serial console file for the boot marker; records when it appeared."""

    def __init__(self, console: Path, marker: str) -> None:
        self.console, self.marker = console, re.compile(marker)
        self.seen_after: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, started: float) -> None:
        """Watch from *started* (a monotonic time) in a daemon thread."""
        def watch() -> None:
            while not self._stop.is_set():
                if self.console.exists() and self.marker.search(
                        self.console.read_text(errors="replace")):
                    self.seen_after = round(time.monotonic() - started, 3)
                    return
                self._stop.wait(CONSOLE_POLL_S)
        self._thread = threading.Thread(target=watch, name="vm-console", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (a last look first) and wait for the thread."""
        self._stop.set()
        if self._thread:
            self._thread.join()


def _not_exported(supported: bool, detail: str) -> ExportState:
    """Why an import without an exported disk did not happen, and what to do."""
    return ExportState(available=False, detail=(
        f"{detail}; exitkit starts no export itself (it would write to the source): export "
        "an image of the instance (CreateImage, ExportImage to VMDK, VHD or RAW) and name the "
        "file in the move's 'disk'" if supported else
        f"{detail}: the source cannot export this VM's disk, so it cannot be imported; "
        "rebuild it from a base image instead"))


def _image_file(role: str, path: Path) -> ImageFile:
    digest, size = disk_images.sha256_file(path)
    return ImageFile(role=role, path=str(path), sha256=digest, bytes=size)


def _sizing(entry: VmPlanEntry, disk: Path) -> VmSizing:
    size = entry.target_size
    image_gib = math.ceil(disk_images.virtual_size(disk, "qcow2") / GIB)
    volumes = max((volume.size_gib for volume in entry.volumes), default=0)
    return VmSizing(size=size.name, vcpus=max(1, math.ceil(size.vcpus)),
                    memory_mib=math.ceil(size.memory_gib * 1024),
                    disk_gib=max(volumes, image_gib, 1))


def _keep_out_of_output(user_data: bytes | None) -> None:
    """User data may hold secrets, which a VM may print on its console: every word of it
    (8 characters or more, split at spaces, quotes, ``=`` and ``:``) is scrubbed from
    console tails and error text."""
    for word in re.split(r"[\s\"'=:]+", (user_data or b"").decode(errors="replace")):
        if len(word) >= USER_DATA_WORD:
            register_secret(word)


def _carried(user_data: bytes | None, entry: VmPlanEntry) -> UserDataCarried:
    digest = hashlib.sha256(user_data).hexdigest() if user_data else None
    return UserDataCarried(present=user_data is not None, sha256=digest,
                           matches_plan=digest == entry.user_data.sha256)


def _monthly_cost(entry: VmPlanEntry) -> VmMonthlyCost:
    source, target = entry.source_size, entry.target_size
    return VmMonthlyCost(source_eur=source.price_month_eur if source else None,
                         target_eur=target.price_month_eur if target else None,
                         source_size=source.name if source else None,
                         target_size=target.name if target else None)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-")[:40] or "vm"


def _tail(console: Path) -> str | None:
    if not console.exists():
        return None
    lines = [line.strip() for line in console.read_text(errors="replace").splitlines()
             if line.strip()]
    return scrub(" | ".join(lines[-CONSOLE_TAIL_LINES:])) or None
