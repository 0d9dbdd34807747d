"""Wall-clock timing of drill phases, with volume and throughput."""

import threading
import time
from datetime import UTC, datetime

from exitkit.evidence.record import PhaseRecord


def utc_now() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


SAMPLE_INTERVAL_S = 1.0


class PhaseClock:
    """Times one phase and counts the objects and bytes it handled (thread-safe).

    About once a second it keeps a sample (seconds since start, objects, bytes so far),
    so the record can chart throughput over time.
    """

    def __init__(self, name: str, concurrency: int | None = None) -> None:
        self.name = name
        self.concurrency = concurrency
        self.started_at = utc_now()
        self._start = time.monotonic()
        self._next_sample = self._start + SAMPLE_INTERVAL_S
        self._lock = threading.Lock()
        self.objects = 0
        self.bytes = 0
        self.retries = 0
        self.samples: list[tuple[float, int, int]] = []

    def add(self, objects: int = 0, nbytes: int = 0) -> None:
        """Count *objects* and *nbytes* as done in this phase."""
        now = time.monotonic()
        with self._lock:
            self.objects += objects
            self.bytes += nbytes
            if now >= self._next_sample:
                self.samples.append((round(now - self._start, 3), self.objects, self.bytes))
                self._next_sample = now + SAMPLE_INTERVAL_S

    def retried(self) -> None:
        """Count one retry in this phase."""
        with self._lock:
            self.retries += 1

    def finish(self) -> PhaseRecord:
        """Stop the clock and return the phase's record."""
        duration = time.monotonic() - self._start
        rate = 1 / duration if duration > 0 else 0.0
        self.samples.append((round(duration, 3), self.objects, self.bytes))
        return PhaseRecord(
            name=self.name, started_at=self.started_at, ended_at=utc_now(),
            duration_s=round(duration, 6), objects=self.objects, bytes=self.bytes,
            objects_per_s=round(self.objects * rate, 3), bytes_per_s=round(self.bytes * rate, 1),
            retries=self.retries, concurrency=self.concurrency, samples=self.samples,
        )


class BatchedProgress:
    """Counts objects and bytes for a phase clock and its observer, in batches.

    Per-object locking and callbacks cost more than the work when millions of objects
    are classified from listings alone.
    """

    def __init__(self, clock: PhaseClock, observer, phase: str, batch: int = 512) -> None:
        self._clock, self._observer, self._phase, self._batch = clock, observer, phase, batch
        self._objects = self._bytes = 0

    def add(self, nbytes: int) -> None:
        """Count one object of *nbytes*."""
        self.add_many(1, nbytes)

    def add_many(self, objects: int, nbytes: int) -> None:
        """Count *objects* objects of *nbytes* in all."""
        self._objects += objects
        self._bytes += nbytes
        if self._objects >= self._batch:
            self.flush()

    def flush(self) -> None:
        """Pass on what has been counted."""
        if self._objects:
            self._clock.add(self._objects, self._bytes)
            self._observer.advanced(self._phase, self._objects, self._bytes)
            self._objects = self._bytes = 0
