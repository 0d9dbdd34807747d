"""Write drill records to a results directory: atomically, never half-written."""

import os
import tempfile
from datetime import datetime
from pathlib import Path

from exitkit.evidence.record import DrillRecord


def record_stem(drill_name: str, started_at: datetime, run_id: str) -> str:
    """``<drill>-<UTC start>-<run id prefix>``: sortable by time, unique per run.

    The record is ``<stem>.json``; its side files are ``<stem>.<kind>.jsonl``.
    """
    return f"{drill_name}-{started_at.strftime('%Y%m%dT%H%M%SZ')}-{run_id[:8]}"


def record_filename(record: DrillRecord) -> str:
    """The record's file name."""
    return record_stem(record.drill.name, record.started_at, record.run_id) + ".json"


def write_record(record: DrillRecord, results_dir: str | os.PathLike[str]) -> Path:
    """Write *record* into *results_dir*, atomically (see :func:`write_atomically`)."""
    final = Path(results_dir) / record_filename(record)
    write_atomically(final, record.to_json() + "\n")
    return final


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write *text* to *path* via a temporary file beside it, fsync and rename.

    Readers (an auditor, node_exporter's textfile collector) see the old file or the new
    one, never a half-written one.
    """
    directory = Path(path).parent
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=".exitkit-",
                                     suffix=".tmp", delete=False) as handle:
        try:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def read_record(path: str | os.PathLike[str]) -> DrillRecord:
    """Read a record written by :func:`write_record`."""
    return DrillRecord.model_validate_json(Path(path).read_text(encoding="utf-8"))
