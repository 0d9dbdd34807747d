"""Retries as a wrapper around an adapter, applied once where adapters are opened.

Modelled on restic's ``RetryBackend``: every request of the wrapped source, target or
restorer is retried on a TransientError with the policy of :mod:`exitkit.providers.retry`,
so the phases that use them (census, restores, cleanup, verification's HEADs) take no
retry settings of their own. Two things are not retried here:

* ``put``: a streamed write cannot be repeated from its iterator; the copy phase retries
  the whole copy (GET and PUT) instead. Only the parts of a multipart upload, held in
  memory, are retried on their own (``retry_repeatable``).
* reading an opened stream: only opening it is retried; the phase that consumes a stream
  (a copy, a hashed read) retries the whole transfer.

An error this wrapper gave up on is marked, so a phase-level retry around it (a copy that
HEADs, a read that opens) does not repeat it again (see :func:`with_retries`).
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TypeVar

from exitkit.errors import TransientError
from exitkit.providers.contract import ObjectStream
from exitkit.providers.retry import with_retries

Result = TypeVar("Result")


class _Retrying:
    """Forwards every attribute to the wrapped adapter; retries the calls it names."""

    def __init__(self, inner, max_retries: int, on_retry: Callable[[], None]) -> None:
        self.inner = inner
        self._max_retries = max_retries
        self._on_retry = on_retry

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value) -> None:
        if name in ("inner", "_max_retries", "_on_retry"):
            object.__setattr__(self, name, value)
        else:  # e.g. capabilities, which prepare() and probes change
            setattr(self.inner, name, value)

    def _retry(self, call: Callable[[], Result]) -> Result:
        try:
            return with_retries(call, self._max_retries, self._on_retry)
        except TransientError as exc:
            exc.exhausted = True
            raise


class RetryingSource(_Retrying):
    """An :class:`~exitkit.providers.contract.ObjectSource` whose requests are retried."""

    def head(self, key: str, version_id: str | None = None):
        """HEAD, retried."""
        return self._retry(lambda: self.inner.head(key, version_id))

    def tags(self, key: str, version_id: str | None = None) -> dict[str, str]:
        """The object's tags, retried."""
        return self._retry(lambda: self.inner.tags(key, version_id))

    def first_part_size(self, key: str, version_id: str | None = None) -> int | None:
        """Size of part 1, retried."""
        return self._retry(lambda: self.inner.first_part_size(key, version_id))

    @contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[ObjectStream]:
        """Open a stream (the request is retried; reading it is the caller's to retry)."""
        with ExitStack() as stack:
            yield self._retry(lambda: stack.enter_context(self.inner.open(key, version_id)))


class RetryingTarget(RetryingSource):
    """An :class:`~exitkit.providers.contract.ObjectTarget` whose requests are retried,
    except ``put`` (a streamed write; the copy retries it whole). The requests of a write
    that can be sent again as they were (an S3 upload part held in memory) get this
    wrapper's policy through the adapter's ``retry_repeatable``, where it has one."""

    def __init__(self, inner, max_retries: int, on_retry: Callable[[], None]) -> None:
        super().__init__(inner, max_retries, on_retry)
        if hasattr(inner, "retry_repeatable"):
            inner.retry_repeatable = self._retry

    def remove(self, key: str, version_id: str | None = None, **options) -> str | None:
        """DELETE, retried (a repeated deletion of a key puts a second delete marker on a
        versioned store, which reads as one: see :mod:`exitkit.verify.entries`)."""
        return self._retry(lambda: self.inner.remove(key, version_id, **options))


class RetryingRestorer(_Retrying):
    """A :class:`~exitkit.providers.contract.Restorer` whose requests are retried."""

    def restore_status(self, key: str, version_id: str | None = None):
        """Where the restore stands, retried."""
        return self._retry(lambda: self.inner.restore_status(key, version_id))

    def request_restore(self, key: str, version_id: str | None, days: int, tier: str):
        """Request a restore, retried (a repeated request is answered 409 or 200)."""
        return self._retry(lambda: self.inner.request_restore(key, version_id, days, tier))

