"""Archived objects in the copy phase: restore them, wait, and copy each once readable.

Objects listed in an archived storage class (GLACIER, DEEP_ARCHIVE) are held back from the
copy's first pass. One HEAD each tells whether a restored copy is already readable (then
it is copied at once) or a restore is ongoing. With the spec's ``restore`` section the
drill requests a restore of every other one, exactly once: each request is written to the
drill's journal and committed before the drill goes on, so ``--resume`` polls the restores
an interrupted run requested instead of requesting them again. The drill then polls with
exponential backoff (one second, doubling, at most ``restore.poll_interval``) and copies
each key as soon as all its archived versions are readable, until ``restore.max_wait``.

Whatever is still not readable then (or without a ``restore`` section) gets the class
``archived`` with its storage class and the remedy.
"""

import heapq
from collections.abc import Callable, Container, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, groupby
from time import monotonic

from exitkit.concurrency import map_bounded
from exitkit.drill.events import DrillObserver, SilentObserver
from exitkit.drill.spec import Restore
from exitkit.drill.spill import SpillList, SpillMap
from exitkit.drill.units import duration_text
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import RestoreRecord, RestoreRequestRecord
from exitkit.measure.timing import utc_now
from exitkit.providers.archive import needs_restore, restore_advice
from exitkit.providers.contract import Restorer, RestoreStatus
from exitkit.verify.entries import Entry

Order = tuple[str, int]
REQUEST_LIMIT = 1000
POLL_WORKERS = 8


@dataclass(frozen=True)
class RestoreRequest:
    """A restore a drill asked for, as its journal keeps it (*version_id* as it was
    addressed: None for a current ``null`` version)."""

    key: str
    version_id: str | None
    storage_class: str
    size: int
    tier: str
    requested_at: str


@dataclass
class ArchivedObjects:
    """The archived entries of one copy phase and their restores.

    *requests* is the journal's table of restores requested (by this run or the run it
    resumes); *problems* receives the class and reason of what could not be copied.
    """

    restorer: Restorer | None
    settings: Restore | None
    requests: MutableMapping[Order, RestoreRequest]
    observer: DrillObserver = field(default_factory=SilentObserver)
    entries: MutableMapping[Order, Entry] = field(
        default_factory=lambda: SpillMap(pickled=True))
    states: MutableMapping[Order, str] = field(default_factory=SpillMap)
    requested: int = 0
    requested_before: int = 0
    found_restored: int = 0
    waited_s: float = 0.0
    _waiting: SpillList[tuple[list[Entry], list[Entry]]] = field(default_factory=SpillList)
    _unavailable: SpillList[list[Entry]] = field(default_factory=SpillList)

    def readable(self, groups: Iterable[list[Entry]]) -> Iterator[list[Entry]]:
        """Pass on each key's versions that can be copied now; hold back the others
        (requesting their restores)."""
        for versions in groups:
            archived = [entry for entry in versions if needs_restore(
                entry.info.storage_class, self.restorer is not None)]
            states = [self._admit(entry) for entry in archived]
            if "none" in states:
                self._unavailable.append(versions)
            elif "ongoing" in states:
                self._waiting.append((versions, [entry for entry, state in zip(archived, states)
                                                 if state == "ongoing"]))
            else:
                yield versions

    def _admit(self, entry: Entry) -> str:
        """The state of one archived entry's restore, requesting one when asked to."""
        self.entries[entry.order] = entry
        if entry.order in self.requests:
            self.requested_before += 1
            return self._set(entry, "ongoing")
        status = self._status(entry)
        if status is None:  # the GET of the copy gives the diagnosis
            self._set(entry, "unknown")
            return "ready"
        if status.state != "none":
            self.found_restored += 1
            return self._set(entry, status.state)
        if self.settings is None or self.restorer is None:
            return self._set(entry, "none")
        info, settings = entry.info, self.settings
        status = self.restorer.request_restore(info.key, _version(entry), settings.days,
                                               settings.tier)
        self.requests[entry.order] = RestoreRequest(
            key=info.key, version_id=_version(entry), storage_class=info.storage_class or "",
            size=info.size, tier=settings.tier, requested_at=utc_now().isoformat())
        self.requested += 1
        return self._set(entry, "ready" if status.state == "ready" else "ongoing")

    def _set(self, entry: Entry, state: str) -> str:
        self.states[entry.order] = state
        return state

    def _status(self, entry: Entry) -> RestoreStatus | None:
        """One HEAD; None when it fails (the GET of the copy then gives the diagnosis)."""
        if self.restorer is None:
            return RestoreStatus("none")
        try:
            return self.restorer.restore_status(entry.info.key, _version(entry))
        except (TransientError, PermanentError):
            return None

    def wait(self, copy: Callable[[list[list[Entry]]], None]) -> None:
        """Poll the held-back keys with backoff and *copy* each batch that became readable,
        until none is left or ``max_wait`` has passed. Interruptible (Ctrl-C)."""
        if not self._waiting or self.settings is None:
            return
        settings, started = self.settings, monotonic()
        self.observer.noted("copy", (
            f"waiting for {len(self._waiting)} keys with archived objects to be restored "
            f"(tier {settings.tier}, at most {duration_text(settings.max_wait.total_seconds())}); "
            f"Ctrl-C keeps the requests for 'exitkit drill run --resume'"))

        def poll() -> int:
            waiting = (entry for _versions, entries in self._waiting for entry in entries)
            for entry, status, _error in map_bounded(self._status, waiting, POLL_WORKERS):
                self.states[entry.order] = status.state if status else "unknown"
            ready, still = SpillList(), SpillList()
            for versions, entries in self._waiting:
                entries = [entry for entry in entries
                           if self.states[entry.order] not in ("ready", "unknown")]
                (still.append((versions, entries)) if entries else ready.append(versions))
            self._waiting.close()
            self._waiting = still
            if len(ready):
                copy(ready)
            ready.close()
            return len(still)

        # imported here: tenacity brings asyncio and tornado, and most drills await no restore
        from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

        Retrying(retry=retry_if_result(bool), reraise=True,
                 stop=stop_after_delay(settings.max_wait.total_seconds()),
                 wait=wait_exponential(multiplier=1, min=1,
                                       max=max(1.0, settings.poll_interval.total_seconds())),
                 retry_error_callback=lambda state: state.outcome.result())(poll)
        self.waited_s = monotonic() - started

    def not_copied(self) -> Iterator[tuple[Entry, str, str]]:
        """Each entry held back for good, with its class and reason."""
        for versions in chain(self._unavailable, (versions for versions, _ in self._waiting)):
            for entry in versions:
                if entry.order in self.entries:
                    yield entry, "archived", self._reason(entry)
                else:
                    yield entry, "failed", ("not copied: another version of this key is "
                                            "archived, and versions are written in order")

    def _reason(self, entry: Entry) -> str:
        state, request = self.states.get(entry.order), self.requests.get(entry.order)
        storage_class = entry.info.storage_class
        if state == "none":
            return restore_advice(storage_class)
        if request is None:
            return (f"{storage_class}: a restore is in progress (not requested by this "
                    f"drill); run the drill again once it is readable")
        waited = duration_text(self.settings.max_wait.total_seconds()) if self.settings else "?"
        return (f"{storage_class}: restore requested {request.requested_at} ({request.tier}), "
                f"not readable after waiting {waited}; 'exitkit drill run --resume' waits on "
                f"without a new request")

    def record(self, done: Container[Order]) -> RestoreRecord:
        """The restore part of the record, given what is now on the target."""
        settings = self.settings
        requests, counts = [], dict.fromkeys(("copied", "ready", "pending", "not_requested"), 0)
        archived_bytes = archived = 0
        for order, _same in groupby(heapq.merge(_in_order(self.entries),
                                                _in_order(self.requests))):
            archived += 1
            entry, request = self.entries.get(order), self.requests.get(order)
            state = self._final_state(order, done)
            counts[state] += 1
            size = entry.info.size if entry else request.size
            archived_bytes += size
            if len(requests) < REQUEST_LIMIT:
                requests.append(RestoreRequestRecord(
                    key=entry.info.key if entry else request.key,
                    version_id=entry.info.version_id if entry else request.version_id,
                    storage_class=(entry.info.storage_class if entry else
                                   request.storage_class) or "",
                    bytes=size, state=state,
                    requested_at=datetime.fromisoformat(request.requested_at)
                    if request else None))
        return RestoreRecord(
            tier=settings.tier if settings else None, days=settings.days if settings else None,
            max_wait_s=settings.max_wait.total_seconds() if settings else None,
            archived_objects=archived, archived_bytes=archived_bytes,
            requested=self.requested, requested_before=self.requested_before,
            found_restored=self.found_restored, waited_s=round(self.waited_s, 3),
            requests=requests, requests_truncated=archived > REQUEST_LIMIT, **counts)

    def _final_state(self, order: Order, done: Container[Order]) -> str:
        if order in done:
            return "copied"
        state = self.states.get(order)
        if state == "ready":
            return "ready"
        if state in ("none", "unknown") and order not in self.requests:
            return "not_requested"
        return "pending"

    def restored_bytes(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(storage class, tier) -> (requests, bytes) of the restores this run's scope
        relies on: requested by this run or by the interrupted run it resumed."""
        totals: dict[tuple[str, str], tuple[int, int]] = {}
        for order, request in self.requests.items():
            entry = self.entries.get(order)
            if entry is None or self.states.get(order) is None:
                continue
            key = (request.storage_class, request.tier)
            count, size = totals.get(key, (0, 0))
            totals[key] = (count + 1, size + request.size)
        return totals


def _in_order(orders: Iterable[Order]) -> Iterable[Order]:
    """*orders* in key order: as they are when the mapping keeps them so, else sorted."""
    return orders if getattr(orders, "in_key_order", False) else sorted(orders)


def _version(entry: Entry) -> str | None:
    """The version id to address *entry* by: none for the current version when a version
    listing called it ``null`` (objects written before versioning, or in an unversioned
    bucket), which some S3 servers refuse in a HEAD (moto answers 400)."""
    if entry.age == 0 and entry.info.version_id == "null":
        return None
    return entry.info.version_id
