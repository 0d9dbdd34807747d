"""The drill ledger: an append-only JSON Lines file of signed, hash-chained drill records.

Each line is one entry in canonical JSON (sorted keys, no spaces, UTF-8)::

    {"entry": N, "prev_sha256": <SHA-256 of line N-1, or 64 zeros>, "appended_at": ...,
     "record": {...}, "record_file": <path relative to the ledger>, "record_sha256": ...,
     "key_id": ..., "signature": <Ed25519 over the entry without "signature" and "timestamp">,
     "timestamp": <RFC 3161 token over the signed entry, when a TSA is configured>}

With a TSA (:class:`~exitkit.evidence.timestamps.TimestampAuthority`) each entry is
stamped after it is signed; when the TSA cannot be reached the entry is still appended,
its ``timestamp`` saying why it is untimestamped (see :mod:`exitkit.evidence.timestamps`).

Appends take an exclusive lock (a lock file beside the ledger, plus a lock within the
process), so concurrent drills never interleave or fork the chain.
"""

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fasteners

from exitkit.errors import ExitkitError
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.signing import Signer
from exitkit.evidence.timestamps import TimestampAuthority, TimestampError, untimestamped

GENESIS = "0" * 64
_in_process = threading.Lock()
_TAIL_BLOCK = 64 * 1024


def canonical(value: Any) -> bytes:
    """The bytes an entry is hashed and signed as."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signed_part(entry: dict[str, Any]) -> bytes:
    """The canonical bytes the signature covers: the entry without its signature and
    timestamp."""
    return canonical({name: value for name, value in entry.items()
                      if name not in ("signature", "timestamp")})


def stamped_part(entry: dict[str, Any]) -> bytes:
    """The canonical bytes a timestamp token covers: the signed entry, signature included,
    without the timestamp."""
    return canonical({name: value for name, value in entry.items() if name != "timestamp"})


def entry_hash(line: bytes) -> str:
    """SHA-256 of one ledger line (without its newline): what the next entry chains to."""
    return hashlib.sha256(line).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One parsed ledger line."""

    number: int
    record: DrillRecord
    record_file: str
    sha256: str
    timestamp_error: str | None = None
    timestamped_at: str | None = None


def append(ledger: str | os.PathLike[str], record: DrillRecord, record_path: Path,
           signer: Signer, tsa: TimestampAuthority | None = None) -> LedgerEntry:
    """Append *record* (written at *record_path*) to *ledger* as a signed, chained entry,
    stamped by *tsa* when given (an unreachable TSA leaves the entry untimestamped, with
    the reason in the entry and in :attr:`LedgerEntry.timestamp_error`)."""
    ledger = Path(ledger)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    record_file = Path(os.path.relpath(record_path.resolve(), ledger.resolve().parent)).as_posix()
    with _in_process, fasteners.InterProcessLock(f"{ledger}.lock"):
        number, previous = _tail(ledger)
        entry = {
            "entry": number,
            "prev_sha256": previous,
            "appended_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "record": json.loads(record.to_json()),
            "record_file": record_file,
            "record_sha256": hashlib.sha256(record_path.read_bytes()).hexdigest(),
            "key_id": signer.key_id,
        }
        entry["signature"] = signer.sign(signed_part(entry))
        if tsa is not None:
            entry["timestamp"] = _stamp(tsa, entry)
        line = canonical(entry)
        descriptor = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line + b"\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    stamp = stamp_of(entry)
    return LedgerEntry(number, record, record_file, entry_hash(line),
                       timestamp_error=stamp.get("error"), timestamped_at=stamp.get("gen_time"))


def stamp_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's ``timestamp`` (empty when it has none)."""
    stamp = entry.get("timestamp")
    return stamp if isinstance(stamp, dict) else {}


def _stamp(tsa: TimestampAuthority, entry: dict[str, Any]) -> dict[str, Any]:
    data = stamped_part(entry)
    try:
        return tsa.stamp(hashlib.sha256(data).digest(), data)
    except TimestampError as exc:
        return untimestamped(tsa.url, str(exc))


def _tail(ledger: Path) -> tuple[int, str]:
    """Next entry number and the hash of the last line; refuses a damaged end."""
    try:
        handle = ledger.open("rb")
    except FileNotFoundError:
        return 1, GENESIS
    with handle:
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return 1, GENESIS
        chunk, start = b"", end
        while True:
            start = max(0, start - _TAIL_BLOCK)
            handle.seek(start)
            chunk = handle.read(end - start)
            if not chunk.endswith(b"\n"):
                raise ExitkitError(f"{ledger}: ends with a partial entry; nothing appended "
                                   f"(run 'exitkit audit verify' and repair by hand)")
            cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
            if cut >= 0 or start == 0:
                last = chunk[cut + 1:-1]
                break
    try:
        number = json.loads(last)["entry"]
    except (ValueError, KeyError, TypeError):
        raise ExitkitError(f"{ledger}: its last entry is damaged; nothing appended "
                           f"(run 'exitkit audit verify')") from None
    return number + 1, entry_hash(last)


def read_lines(ledger: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """Every line of *ledger* with its line number (1-based), without the newline."""
    try:
        handle = Path(ledger).open("rb")
    except OSError as exc:
        raise ExitkitError(f"{ledger}: cannot read the ledger ({exc.strerror})") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip(b"\n")


def read_entries(ledger: str | os.PathLike[str]) -> Iterator[LedgerEntry]:
    """The entries of *ledger* in order, without checking them (see :mod:`audit` for that)."""
    for line_number, line in read_lines(ledger):
        try:
            entry = json.loads(line)
            record = DrillRecord.model_validate(entry["record"])
        except (ValueError, KeyError, TypeError):
            raise ExitkitError(f"{ledger}:{line_number}: not a ledger entry "
                               f"(run 'exitkit audit verify')") from None
        stamp = stamp_of(entry)
        yield LedgerEntry(entry["entry"], record, entry.get("record_file", ""), entry_hash(line),
                          timestamp_error=stamp.get("error"),
                          timestamped_at=stamp.get("gen_time"))
