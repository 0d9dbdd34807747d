"""Read every source object's properties (one HEAD each, concurrent, bounded) and count
them: the census behind the drill's inventory and ``exitkit scan``."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from exitkit.concurrency import map_bounded
from exitkit.errors import PermanentError
from exitkit.evidence.properties_record import Count, KmsKeyDependency, PropertyCensus
from exitkit.providers.contract import ObjectInfo, ObjectSource
from exitkit.providers.properties import ObjectProperties


class Census:
    """Running counts of object properties; :meth:`record` gives the record part."""

    def __init__(self) -> None:
        self.objects = 0
        self.encryption: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.kms_keys: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.storage_classes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.lock_modes: Counter[str] = Counter()
        self.checksums: Counter[str] = Counter()
        self.content_encodings: Counter[str] = Counter()
        self.legal_holds = self.redirects = self.tagged = self.with_metadata = 0
        self.refused = 0

    def add(self, head: ObjectInfo) -> None:
        """Count one object from its HEAD."""
        attributes = head.attributes
        properties = attributes.properties if attributes else ObjectProperties()
        self.objects += 1
        for table, name in ((self.encryption, properties.encryption),
                            (self.storage_classes, properties.storage_class)):
            table[name][0] += 1
            table[name][1] += head.size
        if properties.kms_key_id:
            self.kms_keys[properties.kms_key_id][0] += 1
            self.kms_keys[properties.kms_key_id][1] += head.size
        if properties.lock_mode:
            self.lock_modes[properties.lock_mode] += 1
        if properties.checksum_algorithm:
            self.checksums[f"{properties.checksum_algorithm.upper()}/"
                           f"{properties.checksum_type}"] += 1
        encoding = attributes.headers.get("content-encoding") if attributes else None
        if encoding:
            self.content_encodings[encoding] += 1
        self.legal_holds += properties.legal_hold
        self.redirects += bool(properties.redirect)
        self.tagged += bool(head.tag_count)
        self.with_metadata += bool(attributes and attributes.metadata)

    def record(self) -> PropertyCensus:
        """The counts as a record part."""
        return PropertyCensus(
            objects=self.objects,
            encryption={name: Count(objects=o, bytes=b)
                        for name, (o, b) in sorted(self.encryption.items())},
            kms_keys=[KmsKeyDependency(key_id=key, objects=o, bytes=b)
                      for key, (o, b) in sorted(self.kms_keys.items())],
            storage_classes={name: Count(objects=o, bytes=b)
                             for name, (o, b) in sorted(self.storage_classes.items())},
            lock_modes=dict(sorted(self.lock_modes.items())),
            legal_holds=self.legal_holds, redirects=self.redirects, tagged=self.tagged,
            with_metadata=self.with_metadata, checksums=dict(sorted(self.checksums.items())),
            content_encodings=dict(sorted(self.content_encodings.items())),
            refused=self.refused)


def head_all(source: ObjectSource, infos: Iterable[ObjectInfo], concurrency: int,
             census: Census | None = None) -> Iterator[ObjectInfo]:
    """HEAD every listed object (version), at most 2x*concurrency* in flight; objects that
    vanished since the listing are skipped. Yields in completion order. The version id
    ``null`` (an unversioned bucket's only version) is not sent: stores such as moto
    refuse it on HEAD. A HEAD the store refuses for good (S3 answers 400 for an SSE-C
    object without its key) is counted in *census*'s ``refused``; the copy and
    verification then report that object themselves. HEADs are retried by the source
    (:class:`exitkit.providers.retrying.RetryingSource`), where it is opened."""

    def head(info: ObjectInfo) -> ObjectInfo | None:
        version = None if info.version_id in (None, "null") else info.version_id
        return source.head(info.key, version)

    for info, found, error in map_bounded(head, infos, concurrency):
        if isinstance(error, PermanentError) and census is not None:
            census.refused += 1
            continue
        if error is not None:
            raise error
        if found is not None:
            yield found._replace(version_id=info.version_id)
