"""Build the test VM image from Debian packages only: a kernel and a busybox initramfs.

The kernel is Debian's ``linux-image-cloud-amd64`` (``/boot/vmlinuz-*-cloud-amd64``); its
virtio drivers are modules, so the initramfs carries them (with their dependencies, in
load order) beside Debian's static busybox (``busybox-static``). The system it boots:

1. loads the virtio modules, and with ``root=`` on the kernel command line mounts that
   disk and runs its ``/sbin/init`` (how an imported disk boots), else runs its own;
2. brings ``eth0`` up by DHCP (QEMU's user-mode network, or any libvirt network);
3. reads the cloud-init NoCloud seed (an ISO 9660 disk holding ``meta-data`` and
   ``user-data``): sets the hostname, runs a user-data shell script (``#!``) as
   cloud-init would, and takes the migrated data's location from ``exitkit-data.env``;
4. serves HTTP on port 80 with busybox ``httpd``: ``/`` says it is up, and
   ``/cgi-bin/data/<key>`` fetches ``$EXITKIT_DATA_URL<key>`` from the migrated bucket;
   and a banner on TCP port 22 (``exitkit-vm <hostname>``, as an SSH server greets), for
   TCP health checks.

:func:`build_image` writes ``vmlinuz`` and ``initrd.img`` (the base image a ``rebuild``
boots) and ``disk.vmdk``, an ext4 disk holding the same system as an export from the
source would (what an ``import`` converts). The initrd is reproducible: the same
packages give the same bytes. ``scripts/build-vm-image`` runs it.
"""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from exitkit.embedded.containers import DATA_CGI, require
from exitkit.errors import ExitkitError

BUSYBOX = Path("/bin/busybox")
KERNEL_GLOB = "vmlinuz-*-cloud-amd64"
#: modules the VM needs (virtio PCI, disk and network; ISO 9660 for the seed), with their
#: dependencies resolved from ``modules.dep``
MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "isofs")
APPLETS = ("sh", "mount", "umount", "insmod", "ip", "udhcpc", "httpd", "wget", "cat", "printf",
           "rm", "echo", "sed", "mkdir", "hostname", "switch_root", "sleep", "ls", "head",
           "grep", "cp", "chmod", "nc", "poweroff")
BOOTED_MARKER = "exitkit-vm: system started"
INDEX_HTML = "<!doctype html><title>exitkit vm</title><p>exitkit vm is up</p>\n"

BOOT_INIT = """#!/bin/sh
# Initramfs stage: virtio drivers, then the disk named by root= or this system.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in $(cat /etc/modules); do insmod "/lib/modules/$module.ko"; done
root=$(sed -n 's/.*root=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$root" ]; then
    mkdir -p /newroot
    mount -t ext4 "$root" /newroot || { echo "exitkit-vm: cannot mount $root"; exec sh; }
    umount /proc /sys
    mount --move /dev /newroot/dev
    exec switch_root /newroot /sbin/init
fi
exec /sbin/init
"""

SYSTEM_INIT = f"""#!/bin/sh
# The system: network by DHCP, the NoCloud seed, user data, HTTP on port 80.
export PATH=/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
echo "{BOOTED_MARKER}"
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 20 -T 1 -s /etc/udhcpc.script
mkdir -p /seed
for disk in /dev/vd?; do
    if mount -t iso9660 -o ro "$disk" /seed 2>/dev/null; then
        [ -f /seed/meta-data ] && break
        umount /seed
    fi
done
if [ -f /seed/meta-data ]; then
    name=$(sed -n 's/^local-hostname: *//p' /seed/meta-data)
    [ -n "$name" ] && hostname "$name"
    [ -f /seed/exitkit-data.env ] && . /seed/exitkit-data.env
    export EXITKIT_DATA_ENDPOINT EXITKIT_DATA_BUCKET EXITKIT_DATA_PREFIX EXITKIT_DATA_URL
    if [ "$(head -c 2 /seed/user-data 2>/dev/null)" = "#!" ]; then
        cp /seed/user-data /tmp/user-data && chmod 700 /tmp/user-data
        /tmp/user-data && echo "exitkit-vm: user-data ran" || echo "exitkit-vm: user-data failed"
    fi
else
    echo "exitkit-vm: no NoCloud seed found"
fi
nc -ll -p 22 -e /bin/banner &
echo "exitkit-vm: serving http on port 80, a banner on port 22"
exec httpd -f -p 80 -h /www
"""

BANNER = """#!/bin/sh
printf 'exitkit-vm %s\\r\\n' "$(hostname)"
"""

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route add default via "${router%% *}"
        ;;
esac
"""


def kernel_path() -> Path:
    """Debian's cloud kernel (``linux-image-cloud-amd64``), the newest installed."""
    found = sorted(Path("/boot").glob(KERNEL_GLOB))
    if not found:
        raise ExitkitError("no /boot/vmlinuz-*-cloud-amd64 (Debian: apt-get install "
                           "linux-image-cloud-amd64)")
    return found[-1]


def module_files(release: str, wanted=MODULES) -> list[Path]:
    """*wanted* modules of kernel *release* and their dependencies, in load order."""
    base = Path("/lib/modules", release)
    depends: dict[str, list[str]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        module, _, needs = line.partition(":")
        depends[Path(module).name.split(".ko")[0]] = [module, *needs.split()]
    paths = {name: entry[0] for name, entry in depends.items()}
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name not in depends:
            raise ExitkitError(f"kernel {release} has no module {name}")
        for dependency in depends[name][1:]:
            visit(Path(dependency).name.split(".ko")[0])
        ordered.append(name)

    for name in wanted:
        visit(name)
    return [base / paths[name] for name in ordered]


def _system_tree(root: Path) -> None:
    """busybox, the system init, the web root and the DHCP script under *root*."""
    if not BUSYBOX.exists():
        raise ExitkitError(f"{BUSYBOX} not found (Debian: apt-get install busybox-static)")
    for directory in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "seed", "www/cgi-bin"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    for name, text, mode in (("sbin/init", SYSTEM_INIT, 0o755),
                             ("bin/banner", BANNER, 0o755),
                             ("etc/udhcpc.script", UDHCPC_SCRIPT, 0o755),
                             ("www/index.html", INDEX_HTML, 0o644),
                             ("www/cgi-bin/data", DATA_CGI, 0o755)):
        (root / name).write_text(text)
        (root / name).chmod(mode)


def _initramfs(tree: Path, release: str, out: Path) -> None:
    """The initramfs: the system, the boot stage and the modules, as gzipped newc cpio."""
    _system_tree(tree)
    (tree / "lib/modules").mkdir(parents=True)
    modules = module_files(release)
    for module in modules:
        shutil.copy2(module, tree / "lib/modules" / module.name)
    (tree / "etc/modules").write_text("\n".join(m.name.split(".ko")[0] for m in modules) + "\n")
    (tree / "init").write_text(BOOT_INIT)
    (tree / "init").chmod(0o755)
    names = sorted(str(path.relative_to(tree)) for path in tree.rglob("*"))
    for name in names:  # the same packages give the same initrd, byte for byte
        os.utime(tree / name, (0, 0), follow_symlinks=False)
    archive = subprocess.run([require("cpio", "cpio"), "-o", "-H", "newc", "--quiet",
                              "--reproducible"],
                             input="\n".join(names).encode(), cwd=tree, capture_output=True,
                             check=True).stdout
    out.write_bytes(gzip.compress(archive, mtime=0))


def _disk(tree: Path, out: Path, size_mib: int = 64) -> None:
    """An ext4 disk image of the system (made without mounting), exported as VMDK."""
    _system_tree(tree)
    raw = out.with_suffix(".raw")
    subprocess.run([require("mke2fs", "e2fsprogs"), "-q", "-F", "-t", "ext4", "-L", "exitkit-root",
                    "-d", str(tree), str(raw), f"{size_mib}M"], check=True, capture_output=True)
    subprocess.run([require("qemu-img", "qemu-utils"), "convert", "-f", "raw", "-O", "vmdk",
                    str(raw), str(out)], check=True, capture_output=True)
    raw.unlink()


def build_image(out_dir: Path) -> dict[str, Path]:
    """Write ``vmlinuz``, ``initrd.img`` and ``disk.vmdk`` into *out_dir*; return them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kernel = kernel_path()
    release = kernel.name.removeprefix("vmlinuz-")
    built = {"kernel": out_dir / "vmlinuz", "initrd": out_dir / "initrd.img",
             "disk": out_dir / "disk.vmdk"}
    shutil.copyfile(kernel, built["kernel"])
    with tempfile.TemporaryDirectory(prefix="exitkit-vm-image-") as scratch:
        _initramfs(Path(scratch, "initramfs"), release, built["initrd"])
        _disk(Path(scratch, "disk"), built["disk"])
    return built


def main(argv: list[str]) -> int:
    """``python -m exitkit.embedded.vm_image OUT_DIR``: build and print the files' digests."""
    if len(argv) != 1:
        print("usage: build-vm-image OUT_DIR", file=sys.stderr)
        return 2
    try:
        built = build_image(Path(argv[0]))
    except (ExitkitError, subprocess.CalledProcessError, OSError) as exc:
        print(f"build-vm-image: {exc}", file=sys.stderr)
        return 2
    for path in built.values():
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
