"""Disk images for VM moves, with ``qemu-img`` (Debian's ``qemu-utils``) and
``genisoimage``: convert an exported disk, prove the conversion, size disks, build a
cloud-init NoCloud seed, and digest files while streaming."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from exitkit.errors import ExitkitError

CHUNK = 1024 * 1024
#: formats an exported disk may come in (EC2 exports VMDK, VHD and RAW)
SOURCE_FORMATS = ("vmdk", "vpc", "raw", "qcow2")
SEED_LABEL = "cidata"  # the volume label cloud-init's NoCloud source looks for


def tool(name: str, package: str) -> str:
    """The path of *name*, or an error naming the Debian package that provides it."""
    found = shutil.which(name)
    if not found:
        raise ExitkitError(f"{name} not found; VM moves need it (Debian/Ubuntu: apt-get "
                           f"install {package})")
    return found


def _run(command: list[str], succeeded: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run *command*; an exit code outside *succeeded* is an error naming the tool."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode not in succeeded:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise ExitkitError(f"{Path(command[0]).name} {command[1]} failed: {' '.join(tail)}")
    return result


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of the file at *path*, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def convert(source: Path, source_format: str, dest: Path) -> None:
    """Convert the disk at *source* into a qcow2 image at *dest*."""
    _run([tool("qemu-img", "qemu-utils"), "convert", "-f", source_format, "-O", "qcow2",
          str(source), str(dest)])


def identical(first: Path, first_format: str, second: Path, second_format: str) -> bool:
    """Whether both images hold the same guest-visible content (``qemu-img compare``)."""
    result = _run([tool("qemu-img", "qemu-utils"), "compare", "-f", first_format, "-F",
                   second_format, str(first), str(second)], succeeded=(0, 1))
    return result.returncode == 0  # 1: they differ


def virtual_size(path: Path, image_format: str) -> int:
    """The disk's size as the guest sees it, in bytes."""
    result = _run([tool("qemu-img", "qemu-utils"), "info", "--output=json", "-f", image_format,
                   str(path)])
    return int(json.loads(result.stdout)["virtual-size"])


def grow(path: Path, size: int) -> None:
    """Grow the qcow2 image at *path* to *size* bytes (never shrinks)."""
    if size > virtual_size(path, "qcow2"):
        _run([tool("qemu-img", "qemu-utils"), "resize", "-f", "qcow2", str(path), str(size)])


def blank(path: Path, size: int) -> None:
    """A new, empty (sparse) qcow2 disk of *size* bytes."""
    _run([tool("qemu-img", "qemu-utils"), "create", "-q", "-f", "qcow2", str(path), str(size)])


def nocloud_seed(path: Path, meta_data: str, user_data: bytes | None,
                 extra: dict[str, str]) -> None:
    """A NoCloud seed (ISO 9660, label ``cidata``) with ``meta-data``, ``user-data`` (as
    given, or empty) and *extra* files; the files are removed again after the ISO exists."""
    staging = path.with_name(path.name + ".d")
    staging.mkdir()
    try:
        (staging / "meta-data").write_text(meta_data)
        (staging / "user-data").write_bytes(user_data or b"")
        for name, text in extra.items():
            (staging / name).write_text(text)
        _run([tool("genisoimage", "genisoimage"), "-quiet", "-output", str(path), "-volid",
              SEED_LABEL, "-joliet", "-rock", *sorted(str(p) for p in staging.iterdir())])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
