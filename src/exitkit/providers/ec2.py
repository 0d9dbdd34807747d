"""EC2 instances through libcloud's EC2 driver: a read-only inventory for VM exit plans.

For each instance: its type and shape (vCPUs, memory, GPUs from libcloud's size table), its
image (id, name, owner, platform, AWS Marketplace product codes), tags, attached volumes
(size, type, encryption) and a SHA-256 digest of its user data. The user data itself is
never kept: it may hold secrets.

libcloud gaps fixed here (each has a test against moto_server, ``tests/test_vm_plan.py``):

* moto answers in the namespace ``http://ec2.amazonaws.com/doc/2016-11-15`` without the
  trailing slash AWS sends, and libcloud looks elements up under the namespace with the
  slash, so ``list_nodes()`` finds nothing; :class:`_NamespaceResponse` adds the slash.
* libcloud reads an instance's product codes from ``productCodesSet`` (the API element is
  ``productCodes``) and keeps XML elements rather than codes, and reads no product codes
  for images at all; :class:`Ec2Driver` reads ``productCodes`` on both.
* libcloud has no call for an instance's user data; :meth:`Ec2Inventory.instances` asks
  ``DescribeInstanceAttribute`` through the driver's connection.
"""

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from libcloud.compute.drivers.ec2 import NAMESPACE, EC2Connection, EC2NodeDriver, EC2Response
from libcloud.utils.xml import findall, findtext

from exitkit.drill.spec_file import Keys
from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.providers.failures import classify
from exitkit.providers.retry import with_retries
from exitkit.providers.s3 import split_endpoint

REQUEST_TIMEOUT_S = 60
RETRIES = 3
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
_BARE_NAMESPACE = "{" + NAMESPACE.rstrip("/") + "}"
_NAMESPACE = "{" + NAMESPACE + "}"

Result = TypeVar("Result")


class _NamespaceResponse(EC2Response):
    """EC2 response that also understands the namespace without its trailing slash."""

    def parse_body(self):
        body = super().parse_body()
        for element in body.iter():
            if isinstance(element.tag, str) and element.tag.startswith(_BARE_NAMESPACE):
                element.tag = _NAMESPACE + element.tag[len(_BARE_NAMESPACE):]
        return body


class _NamespaceConnection(EC2Connection):
    """libcloud's EC2 connection with :class:`_NamespaceResponse`."""

    responseCls = _NamespaceResponse


def _product_codes(element) -> list[str]:
    return [code.text for code in findall(element=element, xpath="productCodes/item/productCode",
                                          namespace=NAMESPACE) if code.text]


class Ec2Driver(EC2NodeDriver):
    """libcloud's EC2 driver, reading namespaces and product codes as the API sends them."""

    connectionCls = _NamespaceConnection

    def _to_node(self, element):
        return _with_licence_details(super()._to_node(element), element)

    def _to_image(self, element):
        return _with_licence_details(super()._to_image(element), element)


def _with_licence_details(resource, element):
    """Add the product codes and platform details libcloud leaves out to a node or image."""
    resource.extra["product_codes"] = _product_codes(element)
    resource.extra["platform_details"] = findtext(element=element, xpath="platformDetails",
                                                  namespace=NAMESPACE)
    return resource


@dataclass(frozen=True)
class InstanceShape:
    """What an instance type offers: vCPUs, memory and GPUs."""

    vcpus: float
    memory_gib: float
    gpus: int


@dataclass(frozen=True)
class Ec2Image:
    """An AMI as DescribeImages reports it."""

    id: str
    name: str | None
    owner_id: str | None
    platform: str | None
    platform_details: str | None
    product_codes: tuple[str, ...]


@dataclass(frozen=True)
class Ec2Volume:
    """An EBS volume attached to an instance."""

    id: str
    device: str | None
    size_gib: int
    volume_type: str | None
    encrypted: bool


@dataclass(frozen=True)
class UserDataDigest:
    """SHA-256 and length of an instance's user data (decoded); never the content."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Ec2Instance:
    """One instance with everything a migration plan needs; no secrets."""

    id: str
    name: str
    state: str
    instance_type: str
    shape: InstanceShape | None
    architecture: str | None
    platform: str | None
    platform_details: str | None
    product_codes: tuple[str, ...]
    image_id: str
    image: Ec2Image | None
    tags: Mapping[str, str]
    user_data: UserDataDigest | None
    volumes: tuple[Ec2Volume, ...]


class Ec2Inventory:
    """Read-only view of one account's EC2 instances in one region: it only describes."""

    def __init__(self, label: str, driver: EC2NodeDriver) -> None:
        self.label = label
        self._driver = driver

    def instances(self, filters: Mapping[str, str | list[str]]) -> list[Ec2Instance]:
        """Instances matching the DescribeInstances *filters*, sorted by id.

        Without an ``instance-state-name`` filter, terminated and shutting-down instances
        are left out.
        """
        wanted = {"instance-state-name": LIVE_STATES, **filters}
        nodes = self._call("DescribeInstances",
                           lambda: self._driver.list_nodes(ex_filters=wanted))
        if not nodes:
            return []
        ids = sorted(node.id for node in nodes)
        images = self._images(sorted({node.extra["image_id"] for node in nodes}))
        volumes = self._volumes(ids)
        shapes = self._shapes()
        return [Ec2Instance(
            id=node.id, name=node.name, state=node.extra.get("status") or "unknown",
            instance_type=node.extra["instance_type"],
            shape=shapes.get(node.extra["instance_type"]),
            architecture=node.extra.get("architecture"), platform=node.extra.get("platform"),
            platform_details=node.extra.get("platform_details"),
            product_codes=tuple(node.extra["product_codes"]), image_id=node.extra["image_id"],
            image=images.get(node.extra["image_id"]), tags=dict(node.extra["tags"]),
            user_data=self._user_data(node.id), volumes=tuple(volumes.get(node.id, ())),
        ) for node in sorted(nodes, key=lambda node: node.id)]

    def _images(self, image_ids: list[str]) -> dict[str, Ec2Image]:
        """Images by id; a filter (not ImageId) so that deregistered ones are just absent."""
        found = self._call("DescribeImages", lambda: self._driver.list_images(
            ex_filters={"image-id": image_ids}))
        return {image.id: Ec2Image(
            id=image.id, name=image.name, owner_id=image.extra.get("owner_id"),
            platform=image.extra.get("platform"),
            platform_details=image.extra.get("platform_details"),
            product_codes=tuple(image.extra["product_codes"])) for image in found}

    def _volumes(self, instance_ids: list[str]) -> dict[str, list[Ec2Volume]]:
        found = self._call("DescribeVolumes", lambda: self._driver.list_volumes(
            ex_filters={"attachment.instance-id": instance_ids}))
        by_instance: dict[str, list[Ec2Volume]] = {}
        for volume in sorted(found, key=lambda volume: (volume.extra.get("device") or "",
                                                        volume.id)):
            by_instance.setdefault(volume.extra.get("instance_id"), []).append(Ec2Volume(
                id=volume.id, device=volume.extra.get("device"), size_gib=int(volume.size),
                volume_type=volume.extra.get("volume_type"),
                encrypted=bool(volume.extra.get("encrypted"))))
        return by_instance

    def _user_data(self, instance_id: str) -> UserDataDigest | None:
        content = self.user_data(instance_id)
        if content is None:
            return None
        return UserDataDigest(sha256=hashlib.sha256(content).hexdigest(), bytes=len(content))

    def user_data(self, instance_id: str) -> bytes | None:
        """The instance's user data, decoded (None without). It may hold secrets: callers
        hand it to the moved VM only, and never keep, log or record it."""
        params = {"Action": "DescribeInstanceAttribute", "InstanceId": instance_id,
                  "Attribute": "userData"}
        response = self._call("DescribeInstanceAttribute", lambda: self._driver.connection.request(
            self._driver.path, params=params).object)
        encoded = findtext(element=response, xpath="userData/value", namespace=NAMESPACE)
        return base64.b64decode(encoded) if encoded else None

    def export_support(self) -> tuple[bool, str]:
        """Whether the endpoint can export images (it answers ``DescribeExportImageTasks``,
        a read-only call), and what it said. A drill starts no export itself: exporting
        writes to the source (an image, an export task, objects in S3)."""
        params = {"Action": "DescribeExportImageTasks", "MaxResults": "5"}
        try:
            self._driver.connection.request(self._driver.path, params=params)
        except Exception as exc:  # libcloud, requests and socket errors alike
            answer = " ".join(str(getattr(exc, "value", exc) or type(exc).__name__).split())
            return False, f"{self.label} does not export images (DescribeExportImageTasks: " \
                          f"{answer[:200]})"
        return True, f"{self.label} answers DescribeExportImageTasks"

    def _shapes(self) -> dict[str, InstanceShape]:
        """libcloud's instance-type table for the region (no request is made)."""
        return {size.id: InstanceShape(vcpus=float(size.extra["vcpu"]),
                                       memory_gib=size.ram / 1024,
                                       gpus=int(size.extra.get("gpu") or 0))
                for size in self._driver.list_sizes() if size.extra.get("vcpu")}

    def _call(self, what: str, call: Callable[[], Result]) -> Result:
        """Run one describe call, retrying transient failures; others name the endpoint."""
        def attempt() -> Result:
            try:
                return call()
            except Exception as exc:  # libcloud, requests and socket errors alike
                raise classify(exc, what) from None

        try:
            return with_retries(attempt, RETRIES, lambda: None)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None


def open_ec2(url: str, region: str, keys: Keys) -> Ec2Inventory:
    """An inventory of the EC2 endpoint at *url* for *region*, signed with *keys*."""
    label = f"aws-ec2 {url} ({region})"
    try:
        secure, host, port = split_endpoint(url)
        driver = Ec2Driver(keys.access_key.get_secret_value(), keys.secret_key.get_secret_value(),
                           secure=secure, host=host, port=port, region=region,
                           timeout=REQUEST_TIMEOUT_S)
    except ValueError as exc:
        raise EndpointError(label, str(exc)) from None
    return Ec2Inventory(label, driver)
