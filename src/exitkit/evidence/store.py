"""Write drill records to a results directory: atomically, never half-written."""

import os
import tempfile
from pathlib import Path

from exitkit.evidence.record import DrillRecord


def record_filename(record: DrillRecord) -> str:
    """``<drill>-<UTC start>-<run id prefix>.json``: sortable by time, unique per run."""
    stamp = record.started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{record.drill.name}-{stamp}-{record.run_id[:8]}.json"


def write_record(record: DrillRecord, results_dir: str | os.PathLike[str]) -> Path:
    """Write *record* into *results_dir* via a temporary file, fsync and rename."""
    directory = Path(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / record_filename(record)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=".record-",
                                     suffix=".tmp", delete=False) as handle:
        try:
            handle.write(record.to_json())
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, final)
    return final


def read_record(path: str | os.PathLike[str]) -> DrillRecord:
    """Read a record written by :func:`write_record`."""
    return DrillRecord.model_validate_json(Path(path).read_text(encoding="utf-8"))
