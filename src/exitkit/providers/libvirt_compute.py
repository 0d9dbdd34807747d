"""A self-hosted VM target on libcloud's libvirt driver (QEMU/KVM through libvirtd).

libcloud's ``LibvirtNodeDriver`` (apache-libcloud 3.9) lists domains and starts, stops
and destroys them. Its gaps, fixed here with libvirt's own Python binding (the driver's
``connection`` is a ``libvirt.virConnect``), each covered by ``tests/test_vm_moves.py``:

* no ``create_node``: :meth:`LibvirtTarget.create` defines the domain from XML
  (``defineXML``) and starts it with the driver's ``start_node``;
* ``destroy_node`` only stops a domain (``virDomainDestroy``); its definition stays, so
  :meth:`LibvirtTarget.remove` also undefines it;
* a node's ``id`` is libvirt's run-time domain id (``-1`` once it stops), so machines are
  named and looked up by name;
* no port publishing for user-mode networking in libvirt's XML before passt: the domain
  gets QEMU's own ``-netdev user,hostfwd=...`` and a virtio-net device on PCI slot 0x10
  (slot 2 is taken by the first disk or the balloon) through ``qemu:commandline``.

Domains run under TCG (domain type ``qemu``) unless the spec asks for ``kvm``: nested KVM
is unreliable on cloud VMs.
"""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from exitkit.errors import EndpointError, ExitkitError
from exitkit.providers.compute import MachineSpec

Result = TypeVar("Result")
NET_ID = "exitkitnet"
NET_PCI_SLOT = "0x10"


def binding():
    """libvirt's Python binding, or an error saying how to install it. Its default error
    callback, which prints every error on stderr, is replaced by a silent one: the
    binding raises every error anyway."""
    try:
        import libvirt
    except ImportError:
        raise ExitkitError("libvirt's Python binding is missing: pip install 'exitkit[vm]' "
                           "(it builds against Debian's libvirt-dev with pkg-config and gcc; "
                           "scripts/setup-tests installs all of them)") from None
    libvirt.registerErrorHandler(_quiet, None)
    return libvirt


def _endpoint_errors(call: Callable[..., Result]) -> Callable[..., Result]:
    """libvirt and libcloud failures as EndpointError naming the target (one line)."""
    @wraps(call)
    def translated(self: "LibvirtTarget", *args, **kwargs) -> Result:
        import libvirt

        try:
            return call(self, *args, **kwargs)
        except libvirt.libvirtError as exc:
            raise EndpointError(self.label, f"{call.__name__}: "
                                f"{exc.get_error_message() or exc}") from None
    return translated


def domain_xml(spec: MachineSpec, domain_type: str) -> str:
    """The libvirt domain definition for *spec* (x86_64, i440fx, direct kernel boot,
    serial console)."""
    boot = (f"<kernel>{escape(str(spec.kernel))}</kernel><initrd>{escape(str(spec.initrd))}"
            f"</initrd><cmdline>{escape(spec.cmdline)}</cmdline>")
    disks = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type={quoteattr(disk.format)}/>"
        f"<source file={quoteattr(str(disk.path))}/><target dev='vd{chr(ord('a') + index)}' "
        f"bus='virtio'/>{'<readonly/>' if disk.read_only else ''}</disk>"
        for index, disk in enumerate(spec.disks))
    console = (f"<serial type='file'><source path={quoteattr(str(spec.console_log))}/>"
               "<target port='0'/></serial>" if spec.console_log else
               "<serial type='pty'><target port='0'/></serial>")
    forwards = ",".join(f"hostfwd=tcp:{spec.address}:{host}-:{guest}"
                        for guest, host in sorted(spec.forwards.items()))
    netdev = f"user,id={NET_ID}" + (f",{forwards}" if forwards else "")
    qemu_args = ("-netdev", netdev, "-device",
                 f"virtio-net-pci,netdev={NET_ID},bus=pci.0,addr={NET_PCI_SLOT}")
    return (
        f"<domain type={quoteattr(domain_type)} "
        "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
        f"<name>{escape(spec.name)}</name><memory unit='MiB'>{spec.memory_mib}</memory>"
        f"<vcpu>{spec.vcpus}</vcpu>"
        f"<os><type arch='x86_64' machine='pc'>hvm</type>{boot}</os>"
        "<features><acpi/></features>"  # without it a guest cannot power itself off
        "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>"
        "<on_crash>destroy</on_crash>"
        f"<devices>{disks}{console}<memballoon model='none'/></devices>"
        "<qemu:commandline>" + "".join(f"<qemu:arg value={quoteattr(arg)}/>" for arg in qemu_args)
        + "</qemu:commandline></domain>")


class LibvirtTarget:
    """The compute contract (:class:`exitkit.providers.compute.ComputeTarget`) on libvirt."""

    def __init__(self, uri: str, domain_type: str = "qemu") -> None:
        libvirt = binding()
        from libcloud.compute.drivers.libvirt_driver import LibvirtNodeDriver

        self.label = f"libvirt {_without_secrets(uri)}"
        self.domain_type = domain_type
        try:
            self.driver = LibvirtNodeDriver(uri)
        except libvirt.libvirtError as exc:
            raise EndpointError(self.label, f"cannot connect: {exc.get_error_message() or exc}") \
                from None

    @_endpoint_errors
    def create(self, spec: MachineSpec) -> str:
        """Define the domain from XML (libvirt binding) and start it (libcloud); its name.
        A domain that fails to start (or is interrupted starting) is removed again."""
        domain = self.driver.connection.defineXML(domain_xml(spec, self.domain_type))
        try:
            self.driver.start_node(self._node(domain.name()))
        except BaseException:
            self._discard(domain.name())
            raise
        return domain.name()

    @_endpoint_errors
    def running(self, machine: str) -> bool:
        """Whether the domain runs. Asked through the binding: libcloud's ``list_nodes``
        runs ``arp``/``ip neigh`` for every domain, too much for a health-check loop."""
        domain = self._domain(machine)
        return domain is not None and bool(domain.isActive())

    @_endpoint_errors
    def names(self, prefix: str) -> list[str]:
        """Names of the domains (running or defined) starting with *prefix* (libcloud)."""
        return sorted(node.name for node in self.driver.list_nodes()
                      if node.name.startswith(prefix))

    @_endpoint_errors
    def remove(self, name: str) -> bool:
        """Destroy (libcloud) and undefine (binding) the domain; True when it existed."""
        node = self._node(name, must_exist=False)
        if node is None:
            return False
        domain = self._domain(name)
        if domain is not None and domain.isActive():
            self.driver.destroy_node(node)
        domain = self._domain(name)  # a transient domain is gone once destroyed
        if domain is not None:
            domain.undefine()
        return True

    def _domain(self, name: str):
        """The binding's domain called *name*, or None."""
        import libvirt

        try:
            return self.driver.connection.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def _discard(self, name: str) -> None:
        """Remove a domain that failed to start, keeping the original failure."""
        import libvirt

        try:
            self.remove.__wrapped__(self, name)
        except libvirt.libvirtError:
            pass

    def close(self) -> None:
        """Close the connection to libvirtd."""
        self.driver.connection.close()

    def _node(self, name: str, must_exist: bool = True):
        """libcloud's node for the domain called *name* (None when it does not exist and
        *must_exist* is false)."""
        for node in self.driver.list_nodes():
            if node.name == name:
                return node
        if must_exist:
            raise EndpointError(self.label, f"no domain {name}")
        return None


def _quiet(_context, _error) -> None:
    """libvirt's error callback: print nothing (the binding raises every error)."""


def _without_secrets(uri: str) -> str:
    """The URI without a user name or password (``qemu+ssh://user@host/...``)."""
    parts = urlsplit(uri)
    if not (parts.username or parts.password):
        return uri
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return uri.replace(parts.netloc, netloc, 1)
