"""Record parts for object properties: the source census (encryption with KMS keys as exit
dependencies, storage classes, locks and holds, redirects, tags, checksums), the
storage-class mapping used, and the losses the spec accepted."""

from pydantic import Field

from exitkit.evidence.record_base import Model


class Count(Model):
    """Objects and their bytes."""

    objects: int = 0
    bytes: int = 0


class KmsKeyDependency(Model):
    """A KMS key the source encrypts with: keys cannot be exported, so each is an exit
    dependency of its own (the data must be readable with it until the exit ends)."""

    key_id: str
    objects: int
    bytes: int


class PropertyCensus(Model):
    """What the source objects in scope hold beyond bytes, from one HEAD per object."""

    objects: int = Field(description="objects (versions) read with HEAD")
    encryption: dict[str, Count] = Field(description="by type: none, AES256 (SSE-S3), "
                                                     "aws:kms, aws:kms:dsse, SSE-C")
    kms_keys: list[KmsKeyDependency] = Field(description="exit dependencies")
    storage_classes: dict[str, Count]
    lock_modes: dict[str, int] = Field(description="objects under retention, by mode")
    legal_holds: int
    redirects: int
    tagged: int
    with_metadata: int
    checksums: dict[str, int] = Field(description="by algorithm/type, e.g. CRC32C/FULL_OBJECT")
    content_encodings: dict[str, int] = Field(description="objects by Content-Encoding "
                                                          "(gzip, br, ...)")
    refused: int = Field(default=0, description="objects whose HEAD the source refused (an "
                                                "SSE-C object without its key): not counted")


class StorageClassMapping(Model):
    """One source storage class and the class its copies get on the target."""

    source: str
    target: str
    objects: int
    held: bool = Field(description="whether the target holds the mapped class")


class PropertiesRecord(Model):
    """How the drill treated object properties."""

    census: PropertyCensus
    capabilities: str = Field(description="where the target's capabilities came from: "
                                          "'profile <provider>' or 'measured <file>'")
    target_object_lock: bool = Field(description="the target bucket holds Object Lock")
    target_encryption: str | None = Field(description="asked of every copy, from the spec")
    storage_classes: list[StorageClassMapping]


class AcceptedGapRecord(Model):
    """A loss the spec accepted, why, and how many objects it concerned."""

    property: str
    reason: str
    objects: int
