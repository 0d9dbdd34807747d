"""``exitkit scan``: count on the source everything that matters to an exit, copy nothing,
and say what the target would lose, before a byte moves.

One listing of versions (versions, delete markers), one of current objects, one HEAD per
current object (concurrent, at most 2x concurrency in flight) and one tag read per tagged
object. Memory holds counts, the first keys per loss, and an 8-byte hash per key for
finding NFC/NFD twins.
"""

import hashlib
import unicodedata
from collections import Counter
from dataclasses import replace

from pydantic import Field

from exitkit.drill.census import Census, head_all
from exitkit.drill.spec_file import LoadedSpec
from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.evidence.properties_record import PropertyCensus
from exitkit.evidence.record_base import Model
from exitkit.providers.contract import Capabilities, ObjectSource, key_problem
from exitkit.providers.measured import capabilities_to_json
from exitkit.verify.properties import PROPERTY_NAMES, PropertyPlan, property_losses

KEYS_PER_LOSS = 1000


class LossRow(Model):
    """One property: how many source objects hold it, whether the target holds it, and
    how many objects (and which keys, the first 1,000) would lose it."""

    property: str
    objects_lost: int
    bytes_lost: int
    keys: list[str]


class ScanReport(Model):
    """What the source holds and what the exit to the target would lose."""

    source: str
    target: str
    capabilities: str = Field(description="'profile <provider>' or 'measured <file>'")
    target_capabilities: dict
    objects: int
    bytes: int
    versions: int = Field(description="noncurrent versions")
    delete_markers: int
    census: PropertyCensus
    key_hazards: dict[str, int] = Field(description="longest_key_bytes, keys_over_1024_bytes, "
                                                    "nfc_nfd_twins, empty_segments, "
                                                    "unrepresentable_on_target")
    losses: list[LossRow]


def _twin_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(unicodedata.normalize("NFC", key).encode(),
                                          digest_size=8).digest(), "big")


def scan(loaded: LoadedSpec, source: ObjectSource, capabilities: Capabilities,
         capabilities_source: str, plan: PropertyPlan) -> ScanReport:
    """Scan the spec's source against what a target with *capabilities* holds (the target
    itself is not contacted)."""
    spec = loaded.spec
    options = spec.options
    prefix = spec.source.prefix
    source.check()
    try:
        versions = delete_markers = 0
        for info in source.list_versions(prefix):
            if info.is_delete_marker:
                delete_markers += 1
            elif not info.is_latest:
                versions += 1
        hazards: Counter[str] = Counter()
        seen: set[int] = set()
        totals = [0, 0]

        def listed():
            for info in source.list(prefix):
                size = len(info.key.encode("utf-8"))
                totals[0] += 1
                totals[1] += info.size
                hazards["longest_key_bytes"] = max(hazards["longest_key_bytes"], size)
                hazards["keys_over_1024_bytes"] += size > 1024
                digest = _twin_hash(info.key)
                hazards["nfc_nfd_twins"] += digest in seen
                seen.add(digest)
                hazards["empty_segments"] += "" in info.key.rstrip("/").split("/")
                hazards["unrepresentable_on_target"] += key_problem(
                    spec.target.prefix + info.key[len(prefix):], capabilities) is not None
                yield info

        census = Census()
        lost: dict[str, list] = {name: [0, 0, []] for name in PROPERTY_NAMES}
        for head in head_all(source, listed(), options.concurrency, census):
            census.add(head)
            attributes = head.attributes
            if attributes is None:
                continue
            if head.tag_count:
                attributes = replace(attributes, tags=source.tags(head.key))
            wanted = plan.for_target(attributes.properties, capabilities)
            for loss in property_losses(attributes.properties, attributes, wanted, plan,
                                        capabilities):
                row = lost[loss.name]
                row[0] += 1
                row[1] += head.size
                if len(row[2]) < KEYS_PER_LOSS:
                    row[2].append(head.key)
    except (TransientError, PermanentError) as exc:
        raise EndpointError(source.label, str(exc)) from None
    return ScanReport(
        source=source.label, target=f"{spec.target.provider} {spec.target.bucket}",
        capabilities=capabilities_source,
        target_capabilities=capabilities_to_json(capabilities),
        objects=totals[0], bytes=totals[1],
        versions=versions, delete_markers=delete_markers, census=census.record(),
        key_hazards=dict(sorted(hazards.items())),
        losses=[LossRow(property=name, objects_lost=row[0], bytes_lost=row[1],
                        keys=sorted(row[2]))
                for name, row in lost.items()])
