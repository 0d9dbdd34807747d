"""The ``vms`` section of a drill spec: which EC2 instances to plan, for which target, and
which of them to move there for real (``target`` and ``move``).

A leaf module (pydantic and the workload spec's checks only), so that ``drill/spec.py``
can import it without a cycle. The plan itself is made by :mod:`exitkit.drill.vm_plan`,
the moves by :mod:`exitkit.drill.vm_moves`.
"""

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from exitkit.drill.spec_base import Credentials, Duration, Strict, refuse_sas
from exitkit.drill.workload_spec import DataCheck, HttpCheck


class VmSource(Strict):
    """Where the VMs run: an EC2 endpoint and region, credentials by variable name."""

    provider: Literal["aws-ec2"]
    endpoint: str | None = Field(default=None, description="URL; default "
                                 "https://ec2.{region}.amazonaws.com")
    region: str = Field(min_length=1)
    credentials: Credentials
    catalog: str | None = Field(default=None, description="catalog entry for source prices; "
                                "default: the AWS entry for the region")

    @model_validator(mode="after")
    def _no_sas(self) -> "VmSource":
        refuse_sas(self.credentials, "aws-ec2")
        return self


class VmTarget(Strict):
    """Where moved VMs run: a libvirt daemon (QEMU), through libcloud's libvirt driver."""

    provider: Literal["libvirt"]
    uri: str = Field(min_length=1, description="libvirt connection URI, e.g. qemu:///system")
    domain_type: Literal["qemu", "kvm"] = Field(default="qemu", description="qemu: TCG "
                                                "emulation; kvm: hardware virtualisation")
    address: str = Field(default="127.0.0.1", description="host address the VMs' forwarded "
                         "ports are published on and checked at")
    data_endpoint: str | None = Field(default=None, pattern=r"^https?://", description="the "
                                      "target bucket's S3 endpoint as the VMs reach it; "
                                      "default: the drill target's endpoint")
    workdir: str | None = Field(default=None, description="where disks and seeds are made "
                                "(a directory the hypervisor can read); default: a "
                                "temporary directory")


class BootFiles(Strict):
    """Direct kernel boot: the kernel and initrd, and the kernel command line."""

    kernel: str = Field(min_length=1)
    initrd: str = Field(min_length=1)
    cmdline: str = "console=ttyS0"


class ExportedDisk(Strict):
    """A disk image exported from the source (e.g. EC2 ExportImage), as a local file."""

    path: str = Field(min_length=1)
    format: Literal["vmdk", "vpc", "raw", "qcow2"] = Field(description="vpc is VHD")


class ForwardedPort(Strict):
    """A guest TCP port published on the target host."""

    guest: int = Field(ge=1, le=65535)
    host: int = Field(ge=1, le=65535)


class TcpCheck(Strict):
    """Healthy when the service on the guest *port* speaks first (a banner: SSH, SMTP,
    many databases); use ``http`` for servers that wait for a request."""

    port: int = Field(ge=1, le=65535, description="guest port (forwarded)")


class VmHealthCheck(Strict):
    """One health check (HTTP or TCP, on a forwarded guest port) and its deadline, counted
    from the create call."""

    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    deadline: Duration = timedelta(seconds=180)
    interval: Duration = timedelta(seconds=0.5)

    @model_validator(mode="after")
    def _one_kind(self) -> "VmHealthCheck":
        if (self.http is None) == (self.tcp is None):
            raise ValueError("give exactly one of 'http' or 'tcp'")
        return self


class VmMove(Strict):
    """One planned VM to move to the target: how, and how to judge it there."""

    vm: str = Field(min_length=1, description="the instance's id or Name tag")
    strategy: Literal["rebuild", "import"] = Field(description="rebuild: boot the base image "
                                                   "with the source's user data; import: "
                                                   "convert the exported disk and boot it")
    boot: BootFiles = Field(description="direct kernel boot. rebuild: the base image; import: "
                            "the kernel and initrd the exported disk boots with (its "
                            "command line names the root disk, vda)")
    disk: ExportedDisk | None = Field(default=None, description="import: the exported disk")
    ports: list[ForwardedPort] = Field(default_factory=list)
    health: VmHealthCheck
    data: DataCheck | None = Field(default=None, description="port is the guest port")
    boot_marker: str = Field(default=r"Run \S+ as init process", description="regular "
                             "expression; boot time ends when the console shows it")

    @model_validator(mode="after")
    def _consistent(self) -> "VmMove":
        if self.strategy == "rebuild" and self.disk is not None:
            raise ValueError("'disk' is for import; rebuild boots the base image")
        guest_ports = {port.guest for port in self.ports}
        checked = [self.health.http.port if self.health.http else self.health.tcp.port]
        checked += [self.data.port] if self.data else []
        if missing := sorted(set(checked) - guest_ports):
            raise ValueError(f"guest port(s) {', '.join(map(str, missing))} are checked but "
                             "not forwarded (add them to 'ports')")
        return self


class VmSection(Strict):
    """The ``vms`` section of a drill: which instances to plan, for which target, and
    which to move there."""

    source: VmSource
    target_catalog: str = Field(min_length=1, description="catalog entry whose compute "
                                                          "sizes the VMs are matched to")
    filters: dict[str, str | list[str]] = Field(
        default_factory=dict, description="EC2 DescribeInstances filters, e.g. tag:Env: prod")
    target: VmTarget | None = Field(default=None, description="where VMs are moved to")
    move: list[VmMove] = Field(default_factory=list, description="planned VMs to move, boot, "
                               "check and remove again")

    @model_validator(mode="after")
    def _moves_have_a_target(self) -> "VmSection":
        if self.move and self.target is None:
            raise ValueError("'move' needs a 'target'")
        names = [move.vm for move in self.move]
        if len(names) != len(set(names)):
            raise ValueError("each VM can be moved once")
        return self
