"""Count the requests each side of a drill answers, in the classes providers bill by."""

import threading

from exitkit.evidence.record import RequestCounts


class RequestCounter:
    """Thread-safe counts of reads (GET/HEAD on objects), writes (PUT, POST, DELETE,
    bucket listings), restores (RestoreObject), bytes read, and retries the adapter made
    itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads = self.writes = self.bytes_read = self.retries = self.restores = 0

    def count(self, method: str, bucket_level: bool = False) -> None:
        """Count one request with HTTP *method*; a GET on the bucket is a listing (a write)."""
        is_read = method in ("GET", "HEAD") and not bucket_level
        with self._lock:
            if is_read:
                self.reads += 1
            else:
                self.writes += 1

    def count_restore(self) -> None:
        """Count one RestoreObject request (billed as a retrieval request, by tier)."""
        with self._lock:
            self.restores += 1

    def retried(self) -> None:
        """Count one retry the adapter made on its own (listing pages, preflight)."""
        with self._lock:
            self.retries += 1

    def add_bytes(self, count: int) -> None:
        """Count *count* bytes of object content read."""
        with self._lock:
            self.bytes_read += count

    def add(self, counts: RequestCounts) -> None:
        """Add the counts another process took (a Dask worker's, for its shard)."""
        with self._lock:
            self.reads += counts.reads
            self.writes += counts.writes
            self.bytes_read += counts.bytes_read
            self.retries += counts.retries
            self.restores += counts.restores

    def snapshot(self) -> RequestCounts:
        """The counts so far."""
        with self._lock:
            return RequestCounts(reads=self.reads, writes=self.writes, bytes_read=self.bytes_read,
                                 retries=self.retries, restores=self.restores)
