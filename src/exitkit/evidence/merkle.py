"""A Merkle tree over manifest lines, as in RFC 6962/9162 (Certificate Transparency).

Leaf hash ``SHA-256(0x00 || line)``, node hash ``SHA-256(0x01 || left || right)``; the
tree of n leaves splits at the largest power of two below n. The root proves the whole
manifest; an audit path proves one line's inclusion without the others.
"""

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(line: bytes) -> bytes:
    """Hash of one manifest line (without its newline)."""
    return hashlib.sha256(b"\x00" + line).digest()


def leaf_hashes(lines: list[str]) -> list[bytes]:
    """Leaf hashes of many manifest lines."""
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + line.encode("utf-8")).digest() for line in lines]


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleBuilder:
    """Compute the root of a stream of leaves with O(log n) memory."""

    def __init__(self) -> None:
        self._stack: list[tuple[bytes, int]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.add_many((leaf,))

    def add_many(self, leaves) -> None:
        """Append leaf hashes in order (the hot loop of a million-object manifest)."""
        stack, sha256 = self._stack, hashlib.sha256
        for node in leaves:
            self.size += 1
            width = 1
            while stack and stack[-1][1] == width:
                node = sha256(b"\x01" + stack.pop()[0] + node).digest()
                width *= 2
            stack.append((node, width))

    def root(self) -> bytes:
        """The root over every leaf added so far."""
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][0]
        for left, _ in reversed(self._stack[:-1]):
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
