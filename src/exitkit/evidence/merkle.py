"""A Merkle tree over manifest lines, as in RFC 6962/9162 (Certificate Transparency).

Leaf hash ``SHA-256(0x00 || line)``, node hash ``SHA-256(0x01 || left || right)``; the
tree of n leaves splits at the largest power of two below n. The root proves the whole
manifest; an audit path proves one line's inclusion without the others.
"""

import hashlib
from collections.abc import Sequence
from itertools import repeat
from operator import methodcaller


_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
_digest = methodcaller("digest")


def leaf_hash(line: bytes) -> bytes:
    """Hash of one manifest line (without its newline)."""
    return _sha256(b"\x00" + line).digest()


def leaf_hashes(lines: list[str]) -> list[bytes]:
    """Leaf hashes of many manifest lines, hashed in C loops (no Python step per line)."""
    return list(map(_digest, map(_sha256, map(str.encode, map("\x00".__add__, lines)))))


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an inner node."""
    return _sha256(b"\x01" + left + right).digest()


def node_hashes(lefts: list[bytes], rights: list[bytes]) -> list[bytes]:
    """Hashes of the inner nodes over pairs ``(lefts[i], rights[i])``, in C loops."""
    joined = map(b"".join, zip(repeat(b"\x01"), lefts, rights))
    return list(map(_digest, map(_sha256, joined)))


class MerkleBuilder:
    """Compute the root of a stream of leaves with O(log n) memory.

    ``_pending[h]`` holds the root of at most one complete subtree of ``2**h`` leaves not
    yet paired (a binary counter of the leaves seen). Leaves added in batches are paired
    level by level, a whole level at a time.
    """

    def __init__(self) -> None:
        self._pending: list[list[bytes]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.add_many([leaf])

    def add_many(self, leaves: list[bytes]) -> None:
        """Append leaf hashes in order (the hot path of a million-object manifest)."""
        self.size += len(leaves)
        carry, height = leaves, 0
        while carry:
            if height == len(self._pending):
                self._pending.append([])
            level = self._pending[height]
            level.extend(carry)
            paired = len(level) - len(level) % 2
            carry = node_hashes(level[0:paired:2], level[1:paired:2])
            del level[:paired]
            height += 1

    def root(self) -> bytes:
        """The root over every leaf added so far."""
        subtrees = [level[0] for level in self._pending if level]  # smallest first
        if not subtrees:
            return EMPTY_ROOT
        node = subtrees[0]
        for left in subtrees[1:]:
            node = node_hash(left, node)
        return node


def _split(size: int) -> int:
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root over *leaves* (recursive definition; used for proofs and checks)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The sibling hashes from leaf *index* up to the root (RFC 6962 section 2.1.1)."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return audit_path(index, leaves[:k]) + [root_of(leaves[k:])]
    return audit_path(index - k, leaves[k:]) + [root_of(leaves[:k])]


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> bool:
    """Check an audit path (RFC 9162 section 2.1.3.2)."""
    if index >= size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root
