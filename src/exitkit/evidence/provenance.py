"""The provenance of a record: the clock that timed it, the code and dependencies that
produced it, and its retention class.

Each probe answers what the host can tell and says ``unknown`` otherwise; none of them
fails a run.
"""

import ctypes
import ctypes.util
import hashlib
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from exitkit import __version__
from exitkit.evidence.retention import RETENTION_CLASSES
from exitkit.evidence.scope_record import ClockRecord, ProvenanceRecord

_PROBE_TIMEOUT_S = 5
_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


def provenance(retention_class: str | None) -> ProvenanceRecord:
    """The provenance of a record produced now, by this process."""
    dependencies = installed_dependencies()
    commit, dirty = source_commit()
    retention = RETENTION_CLASSES.get(retention_class or "")
    return ProvenanceRecord(
        clock=clock_state(), exitkit_version=__version__, exitkit_commit=commit,
        exitkit_commit_dirty=dirty, dependencies=dependencies,
        dependencies_sha256=hashlib.sha256("\n".join(dependencies).encode()).hexdigest(),
        retention_class=retention.name if retention else "unclassified",
        object_lock_mode=retention.mode if retention else None,
        object_lock_days=retention.days if retention else None)


def clock_state() -> ClockRecord:
    """The first clock source that answers: chrony, systemd-timesyncd, the kernel."""
    for probe in (_chrony, _timedatectl, _adjtimex):
        found = probe()
        if found is not None:
            return found
    return ClockRecord(source="unknown", synchronized=None, detail="no clock source answered")


def _run(*command: str) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _chrony() -> ClockRecord | None:
    """``chronyc -c tracking``: CSV; field 3 the stratum, 5 the offset (s), 14 the leap
    status ("Normal" when synchronised)."""
    output = _run("chronyc", "-c", "tracking")
    fields = output.strip().split(",") if output else []
    if len(fields) < 14:
        return None
    leap = fields[13]
    return ClockRecord(source="chrony", synchronized=leap == "Normal",
                       detail=f"reference {fields[1] or fields[0]}, stratum {fields[2]}, "
                              f"offset {fields[4]} s, leap status {leap}")


def _timedatectl() -> ClockRecord | None:
    """``timedatectl show``: NTP (service enabled) and NTPSynchronized."""
    output = _run("timedatectl", "show")
    if not output:
        return None
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    if "NTPSynchronized" not in values:
        return None
    return ClockRecord(source="systemd-timesyncd" if values.get("NTP") == "yes" else "systemd",
                       synchronized=values["NTPSynchronized"] == "yes",
                       detail=f"NTP={values.get('NTP', '?')}, "
                              f"NTPSynchronized={values['NTPSynchronized']}")


class _Timex(ctypes.Structure):
    """``struct timex`` of Linux (adjtimex(2)); natural alignment pads it as the kernel
    does."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("constant", ctypes.c_long),
                ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long),
                ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("_reserved", ctypes.c_int * 11)]


def _adjtimex() -> ClockRecord | None:
    """The kernel's clock discipline, read (modes 0 changes nothing) with adjtimex(2)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        adjtimex = ctypes.CDLL(name, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    timex = _Timex()
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        return None
    unsynchronised = state == _TIME_ERROR or bool(timex.status & _STA_UNSYNC)
    return ClockRecord(source="kernel (adjtimex)", synchronized=not unsynchronised,
                       detail=f"clock state {state}, STA_UNSYNC "
                              f"{'set' if timex.status & _STA_UNSYNC else 'clear'}, maximum "
                              f"error {timex.maxerror} us, estimated error {timex.esterror} us")


@cache
def source_commit() -> tuple[str | None, bool | None]:
    """The git commit of the checkout exitkit runs from, and whether it has uncommitted
    changes; (None, None) for an installed wheel."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parents[1]  # src/exitkit -> the repository, in a source checkout
    top = _run("git", "-C", str(package), "rev-parse", "--show-toplevel")
    if not top or Path(top.strip()).resolve() != checkout:  # e.g. a venv inside some repo
        return None, None
    commit = _run("git", "-C", str(package), "rev-parse", "HEAD")
    if not commit:
        return None, None
    status = _run("git", "-C", str(package), "status", "--porcelain", "--untracked-files=no")
    return commit.strip(), None if status is None else bool(status.strip())


@cache
def installed_dependencies() -> list[str]:
    """exitkit's own requirements (extras left out) as installed: ``name==version``,
    sorted; ``name==missing`` for one that is not installed."""
    try:
        requirements = metadata.distribution("exitkit").requires or []
    except metadata.PackageNotFoundError:
        return []
    lines = set()
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            version = "missing"
        lines.add(f"{requirement.name.lower()}=={version}")
    return sorted(lines)
