"""The manifest: one line per verified object, sorted, with a Merkle root in the record.

An auditor can later prove that one object was verified in a drill with the record's root
and an audit path, without trusting the rest of the manifest.
"""

import heapq
import json
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

from exitkit.evidence.merkle import (MerkleBuilder, audit_path, leaf_hash, leaf_hashes,
                                     root_of, verify_inclusion)
from exitkit.evidence.sidefiles import SideFile
from exitkit.verify.ordering import sorted_by


_by_key_and_age = itemgetter(0, 1)
_string = json.encoder.encode_basestring


def manifest_line(key: str, size: int, digest: str, method: str, version_id: str | None = None,
                  version_age: int | None = None) -> str:
    """One manifest line: canonical JSON (sorted keys, no spaces, UTF-8), built fast.

    Equal to ``json_line`` of the same entry; millions are written per drill.
    """
    line = (f'{{"digest":{_string(digest)},"key":{_string(key)},"method":{_string(method)},'
            f'"size":{size:d}')
    if version_age is not None:
        version = "null" if version_id is None else _string(version_id)
        line += f',"version_age":{version_age:d},"version_id":{version}'
    return line + "}"


@dataclass(frozen=True)
class ManifestSummary:
    """What the record keeps of a finished manifest."""

    file: str
    entries: int
    merkle_root: str


class ManifestWriter:
    """Collects verified objects; :meth:`commit` leaves them sorted beside the record.

    Entries mostly arrive in key order (the verify walk is ordered): those go straight
    into the manifest file and the Merkle tree. Entries that come late (from concurrent
    checks) are kept apart in a temporary file; if there are any, commit sorts them
    (external sort) and merges them in with a second pass, so memory stays flat.
    """

    def __init__(self, directory: Path, name: str) -> None:
        self._directory = directory
        self._name = name
        self._file = SideFile(directory, name)
        self._merkle = MerkleBuilder()
        self._last: tuple[str, int] = ("", -1)
        self._late: IO[bytes] | None = None

    def add(self, key: str, size: int, digest: str, method: str, version_id: str | None = None,
            version_age: int | None = None) -> None:
        """Record one verified object."""
        order = (key, version_age or 0)
        line = manifest_line(key, size, digest, method, version_id, version_age)
        if order > self._last:
            self._last = order
            self._file.write_line(line)
            self._merkle.add(leaf_hash(line.encode("utf-8")))
        else:
            if self._late is None:
                self._late = tempfile.TemporaryFile(prefix="exitkit-manifest-late-")
            pickle.dump((key, order[1], line), self._late, protocol=pickle.HIGHEST_PROTOCOL)

    def add_etag_run(self, keys: list[str], sizes: list[int], etags: list[str]) -> None:
        """Record current objects proven by plain-MD5 ETags; *keys* ascend, after every
        key added so far (the caller's merge guarantees it)."""
        lines = [f'{{"digest":"md5:{etag}","key":{_string(key)},"method":"etag-md5",'
                 f'"size":{size:d}}}' for key, size, etag in zip(keys, sizes, etags)]
        self._file.write_lines(lines)
        self._merkle.add_many(leaf_hashes(lines))
        self._last = (keys[-1], 0)

    def commit(self) -> ManifestSummary:
        """Finish the manifest file beside the record and return its Merkle root."""
        if self._late is not None:
            return self._merge_late()
        self._file.commit()
        return ManifestSummary(file=self._name, entries=self._merkle.size,
                               merkle_root=self._merkle.root().hex())

    def _merge_late(self) -> ManifestSummary:
        merged = SideFile(self._directory, self._name, stage="merging")
        builder = MerkleBuilder()
        with self._file.read_back() as in_order:
            stream = ((entry["key"], entry.get("version_age", 0), line)
                      for line in (raw[:-1] for raw in in_order)
                      for entry in (json.loads(line),))
            self._late.seek(0)
            late = sorted_by(_unpickled(self._late), key=_by_key_and_age)
            for _key, _age, line in heapq.merge(stream, late, key=_by_key_and_age):
                merged.write_line(line)
                builder.add(leaf_hash(line.encode("utf-8")))
        self._late.close()
        self._late = None
        self._file.discard()
        merged.commit()
        return ManifestSummary(file=self._name, entries=builder.size,
                               merkle_root=builder.root().hex())

    def discard(self) -> None:
        """Drop everything collected."""
        if self._late is not None:
            self._late.close()
            self._late = None
        self._file.discard()


def _unpickled(handle: IO[bytes]) -> Iterator[tuple[str, int, str]]:
    while True:
        try:
            yield pickle.load(handle)
        except EOFError:
            return


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
