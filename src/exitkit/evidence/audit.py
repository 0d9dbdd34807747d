"""Check a ledger: the hash chain, every signature, every record and its manifest root.

The check stops at the first entry that fails and says which line and why. Removing
entries from the end of a chain cannot be seen from the chain itself; pass the head hash
an earlier check printed (``expect_head``) to prove the ledger still contains it.

With TSA trust anchors, every RFC 3161 timestamp token is checked too: against the
entry's hash, the TSA's certificate chain, and the entry's own ``appended_at`` (within a
tolerance), so an entry altered or back-dated after it was stamped is found even by
someone who holds the signing key. With ``require_timestamps`` an untimestamped entry
fails as well.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from exitkit.evidence.ledger import (GENESIS, canonical, entry_hash, read_lines, signed_part,
                                    stamp_of, stamped_part)
from exitkit.evidence.manifest import manifest_root
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.signing import key_id, signature_holds
from exitkit.evidence.timestamps import TimestampError, verify_token

#: How far an entry's appended_at may lie from its TSA's time (stamping follows at once,
#: but hosts' clocks drift).
DEFAULT_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class AuditFailure:
    """The first entry that does not hold, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class AuditResult:
    """What a ledger check established."""

    entries: int
    head_sha256: str
    failure: AuditFailure | None
    timestamps_verified: int = 0
    untimestamped: tuple[int, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every entry held."""
        return self.failure is None


class _EntryFailed(Exception):
    """One check of one entry failed; the message says which."""


def audit_ledger(ledger: str | os.PathLike[str], public_key: Ed25519PublicKey,
                 records_dir: str | os.PathLike[str] | None = None,
                 expect_head: str | None = None,
                 tsa_anchors: list[x509.Certificate] | None = None,
                 require_timestamps: bool = False,
                 tolerance: timedelta = DEFAULT_TOLERANCE) -> AuditResult:
    """Check every entry of *ledger* in order against *public_key*.

    Record and manifest files are looked up relative to the ledger, or in *records_dir*.
    Timestamp tokens are checked against *tsa_anchors* when given (see the module).
    """
    ledger = Path(ledger)
    expected_key = key_id(public_key)
    previous, checked, head_seen = GENESIS, 0, expect_head is None
    stamped, unstamped = 0, []
    for line_number, line in read_lines(ledger):
        try:
            entry = _parse(line)
            _check_chain(entry, checked + 1, previous)
            _check_signature(entry, public_key, expected_key)
            record = _record_of(entry)
            _check_files(entry, record, _locate(ledger, entry["record_file"], records_dir))
            stamp = _check_timestamp(entry, tsa_anchors, require_timestamps, tolerance)
            stamped += stamp == "verified"
            if stamp == "none":
                unstamped.append(line_number)
        except _EntryFailed as failed:
            return AuditResult(checked, previous, AuditFailure(line_number, str(failed)),
                               stamped, tuple(unstamped))
        previous, checked = entry_hash(line), checked + 1
        head_seen = head_seen or previous == expect_head
    if not head_seen:
        return AuditResult(checked, previous, AuditFailure(
            checked, f"head {expect_head} is not in the ledger: entries were removed "
                     f"from its end or changed"), stamped, tuple(unstamped))
    return AuditResult(checked, previous, None, stamped, tuple(unstamped))


def _parse(line: bytes) -> dict:
    try:
        entry = json.loads(line)
    except ValueError:
        raise _EntryFailed("not valid JSON: the entry was damaged") from None
    if not isinstance(entry, dict):
        raise _EntryFailed("not a JSON object: the entry was damaged")
    if canonical(entry) != line:
        raise _EntryFailed("not in canonical form: the entry was altered")
    missing = {"entry", "prev_sha256", "record", "record_file", "record_sha256", "key_id",
               "signature"} - entry.keys()
    if missing:
        raise _EntryFailed(f"fields missing: {', '.join(sorted(missing))}")
    return entry


def _check_chain(entry: dict, expected_number: int, previous: str) -> None:
    if entry["entry"] != expected_number:
        raise _EntryFailed(f"entry number {entry['entry']} where {expected_number} was "
                           f"expected: an entry was removed, inserted or reordered")
    if entry["prev_sha256"] != previous:
        raise _EntryFailed("the previous-entry hash does not match: the entry before it was "
                           "changed, removed or reordered, or this one was inserted")


def _check_signature(entry: dict, public_key: Ed25519PublicKey, expected_key: str) -> None:
    if entry["key_id"] != expected_key:
        raise _EntryFailed(f"signed with key {entry['key_id']}, not with the given key "
                           f"{expected_key}")
    if not isinstance(entry["signature"], str) or not signature_holds(
            public_key, signed_part(entry), entry["signature"]):
        raise _EntryFailed("the signature does not hold: the entry was altered or its "
                           "signature replaced")


def _check_timestamp(entry: dict, anchors: list[x509.Certificate] | None, required: bool,
                     tolerance: timedelta) -> str:
    """``verified``; ``none`` when the entry has no token; ``unchecked`` when no anchors
    were given to check its token with."""
    stamp = stamp_of(entry)
    if not stamp.get("token"):
        if required:
            why = stamp.get("error") or "no TSA was configured"
            raise _EntryFailed(f"the entry has no timestamp token ({why})")
        return "none"
    if anchors is None:
        if required:
            raise _EntryFailed("timestamps are required but no TSA trust anchor was given")
        return "unchecked"
    digest = hashlib.sha256(stamped_part(entry)).digest()
    try:
        verify_token(stamp, digest, anchors, entry.get("appended_at"), tolerance)
    except TimestampError as exc:
        raise _EntryFailed(str(exc)) from None
    return "verified"


def _record_of(entry: dict) -> DrillRecord:
    try:
        return DrillRecord.model_validate(entry["record"])
    except ValidationError as exc:
        raise _EntryFailed(f"the record does not match the record schema "
                           f"({exc.error_count()} problems)") from None


def _locate(ledger: Path, record_file: str, records_dir: str | os.PathLike[str] | None) -> Path:
    if records_dir is not None:
        return Path(records_dir) / Path(record_file).name
    return ledger.parent / record_file


def _check_files(entry: dict, record: DrillRecord, record_path: Path) -> None:
    """The record file equals the signed digest; the manifest hashes to the record's root."""
    try:
        digest = hashlib.sha256(record_path.read_bytes()).hexdigest()
    except OSError:
        raise _EntryFailed(f"record file {record_path} cannot be read") from None
    if digest != entry["record_sha256"]:
        raise _EntryFailed(f"record file {record_path} differs from the one signed")
    manifest = record.verification.manifest if record.verification else None
    if manifest is None:
        return
    path = record_path.parent / manifest.file
    try:
        root = manifest_root(path)
    except OSError:
        raise _EntryFailed(f"manifest {path} cannot be read") from None
    except ValueError:
        raise _EntryFailed(f"manifest {path} is damaged") from None
    if root != manifest.merkle_root:
        raise _EntryFailed(f"manifest {path} has Merkle root {root}, the record says "
                           f"{manifest.merkle_root}: the manifest was altered")
