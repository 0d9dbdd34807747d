"""Wall-clock timing of drill phases, with volume and throughput."""

import threading
import time
from datetime import UTC, datetime

from exitkit.evidence.record import PhaseRecord


def utc_now() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class PhaseClock:
    """Times one phase and counts the objects and bytes it handled (thread-safe)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started_at = utc_now()
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self.objects = 0
        self.bytes = 0
        self.retries = 0

    def add(self, objects: int = 0, nbytes: int = 0) -> None:
        """Count *objects* and *nbytes* as done in this phase."""
        with self._lock:
            self.objects += objects
            self.bytes += nbytes

    def retried(self) -> None:
        """Count one retry in this phase."""
        with self._lock:
            self.retries += 1

    def finish(self) -> PhaseRecord:
        """Stop the clock and return the phase's record."""
        duration = time.monotonic() - self._start
        rate = 1 / duration if duration > 0 else 0.0
        return PhaseRecord(
            name=self.name, started_at=self.started_at, ended_at=utc_now(),
            duration_s=round(duration, 6), objects=self.objects, bytes=self.bytes,
            objects_per_s=round(self.objects * rate, 3), bytes_per_s=round(self.bytes * rate, 1),
            retries=self.retries,
        )
