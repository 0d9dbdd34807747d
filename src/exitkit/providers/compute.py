"""The compute contract: what a VM target does for a drill, whatever its platform.

A drill creates a machine from a :class:`MachineSpec` (name, size, boot files and disks,
cloud-init seed, published ports), starts it, reads its state, lists the machines whose
names start with a prefix (its own, including leftovers of an interrupted run), and
removes them again. :meth:`ComputeTarget.remove` ends with the machine gone from the
platform, not merely stopped, and :meth:`ComputeTarget.names` asks the platform again,
so a teardown can be confirmed.

:class:`exitkit.providers.libvirt_compute.LibvirtTarget` implements it on libcloud's
libvirt driver. An OpenStack target (OVHcloud Public Cloud, Infomaniak) would implement
the same methods on libcloud's OpenStack driver (docs/vm-moves.md shows the mapping):
``create`` registers the disk in Glance and calls ``create_node`` with the size, the
image and the user data (``ex_userdata``, no seed disk needed); ``remove`` is
``destroy_node`` (which deletes the server) plus deleting the uploaded image; ``names``
is ``list_nodes``.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Disk:
    """A disk file attached to the machine, in order (the first is ``vda``)."""

    path: Path
    format: str
    read_only: bool = False


@dataclass(frozen=True)
class MachineSpec:
    """Everything a target needs to create one machine.

    ``kernel``/``initrd``/``cmdline``: direct kernel boot. ``forwards``: guest TCP port ->
    host port published on ``address``. ``console_log``: where the serial console is
    written.
    """

    name: str
    vcpus: int
    memory_mib: int
    disks: tuple[Disk, ...]
    kernel: Path
    initrd: Path
    cmdline: str = ""
    address: str = "127.0.0.1"
    forwards: dict[int, int] = field(default_factory=dict)
    console_log: Path | None = None


class ComputeTarget(Protocol):
    """A platform that runs a drill's machines (the compute contract)."""

    label: str

    def create(self, spec: MachineSpec) -> str:
        """Define the machine and start it; return its id. Raises EndpointError."""

    def running(self, machine: str) -> bool:
        """Whether the machine runs (False once it stopped or crashed)."""

    def names(self, prefix: str) -> list[str]:
        """Names of every machine (running or not) whose name starts with *prefix*."""

    def remove(self, name: str) -> bool:
        """Stop the machine at once and delete it from the platform; True when it existed."""
