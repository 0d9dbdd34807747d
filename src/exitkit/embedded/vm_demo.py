"""The VM part of ``exitkit demo --with-vm``: the website's web server VM leaves AWS.

A private libvirt daemon (:mod:`exitkit.embedded.libvirt_daemon`) is the self-hosted
hypervisor; the base image is built here from Debian packages
(:mod:`exitkit.embedded.vm_image`). ``drills/demo-vm.yaml`` copies the site's files to
SeaweedFS and rebuilds the planned ``site-web`` instance on libvirt with its user data;
the VM must serve the migrated files, and is removed again.
"""

import shutil
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from exitkit.embedded.libvirt_daemon import LibvirtDaemon
from exitkit.embedded.servers import SeaweedServer, free_port
from exitkit.embedded.vm_image import build_image
from exitkit.resources import bundled_dir

#: how a VM on QEMU's user-mode network reaches the host's loopback
GUEST_HOST_ADDRESS = "10.0.2.2"


def vm_spec() -> Path:
    """The bundled VM demo drill spec."""
    return bundled_dir("drills") / "demo-vm.yaml"


def prepare_vm(target: SeaweedServer, stack: ExitStack,
               say: Callable[[str], None]) -> dict[str, str]:
    """Start libvirtd and virtlogd, build the base image; return the variables
    ``drills/demo-vm.yaml`` reads. Both are undone when *stack* closes."""
    image = Path(tempfile.mkdtemp(prefix="exitkit-vm-image-"))
    stack.callback(shutil.rmtree, image, ignore_errors=True)
    build_image(image)
    say(f"VM base image: Debian's cloud kernel and a busybox initramfs in {image}")
    daemon = stack.enter_context(LibvirtDaemon())
    say(f"hypervisor: libvirtd (QEMU, TCG) at {daemon.uri}")
    return {
        "EXITKIT_DEMO_LIBVIRT_URI": daemon.uri,
        "EXITKIT_DEMO_VM_IMAGE": str(image),
        "EXITKIT_DEMO_VM_PORT": str(free_port()),
        "EXITKIT_DEMO_VM_DATA_ENDPOINT": f"http://{GUEST_HOST_ADDRESS}:{target.port}",
    }
