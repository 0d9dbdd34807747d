"""The manifest: one line per verified object, sorted, with a Merkle root in the record.

An auditor can later prove that one object was verified in a drill with the record's root
and an audit path, without trusting the rest of the manifest.
"""

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from exitkit.evidence.merkle import (MerkleBuilder, audit_path, leaf_hash, root_of,
                                     verify_inclusion)
from exitkit.evidence.sidefiles import SideFile, json_line
from exitkit.verify.ordering import sorted_by


@dataclass(frozen=True)
class ManifestSummary:
    """What the record keeps of a finished manifest."""

    file: str
    entries: int
    merkle_root: str


def _sort_key(line: str) -> tuple[str, int]:
    entry = json.loads(line)
    return entry["key"], entry.get("version_age", 0)


class ManifestWriter:
    """Collects verified objects in any order; :meth:`commit` sorts them and computes the root."""

    def __init__(self, directory: Path, name: str) -> None:
        self._directory = directory
        self._name = name
        self._unsorted = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="exitkit-manifest-")

    def add(self, entry: dict) -> None:
        """Record one verified object."""
        self._unsorted.write(json_line(entry) + "\n")

    def commit(self) -> ManifestSummary:
        """Write the sorted manifest beside the record and return its Merkle root."""
        self._unsorted.seek(0)
        lines = (line.rstrip("\n") for line in self._unsorted)
        target = SideFile(self._directory, self._name)
        builder = MerkleBuilder()
        for line in sorted_by(lines, key=_sort_key):
            target.write_line(line)
            builder.add(leaf_hash(line.encode("utf-8")))
        target.commit()
        self._unsorted.close()
        return ManifestSummary(file=self._name, entries=builder.size,
                               merkle_root=builder.root().hex())

    def discard(self) -> None:
        """Drop everything collected."""
        self._unsorted.close()


@dataclass(frozen=True)
class InclusionProof:
    """An audit path for one manifest line."""

    entry: dict
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    root: str
    verified: bool


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield line.rstrip("\n")


def prove(manifest: Path, root_hex: str, key: str, version_id: str | None = None
          ) -> InclusionProof | None:
    """Build and check the inclusion proof of *key* against *root_hex*; None if absent."""
    leaves, found = [], None
    for index, line in enumerate(_lines(manifest)):
        leaves.append(leaf_hash(line.encode("utf-8")))
        entry = json.loads(line)
        if found is None and entry["key"] == key and (
                version_id is None or entry.get("version_id") == version_id):
            found = (index, entry)
    if found is None:
        return None
    index, entry = found
    path = audit_path(index, leaves)
    root = bytes.fromhex(root_hex)
    return InclusionProof(entry=entry, leaf_index=index, tree_size=len(leaves),
                          leaf_hash=leaves[index].hex(), audit_path=[h.hex() for h in path],
                          root=root_hex,
                          verified=verify_inclusion(index, len(leaves), leaves[index], path, root))


def manifest_root(manifest: Path) -> str:
    """Recompute the Merkle root of a manifest file."""
    return root_of([leaf_hash(line.encode("utf-8")) for line in _lines(manifest)]).hex()
