"""How stale is an inventory report? A sampled HEAD of listed keys and a LIST of a few
prefixes, compared with the report.

The draw is reproducible (the keys with the lowest scores under the seed, see
:func:`exitkit.verify.sampling.score`); the prefixes are the parent prefixes of drawn
keys, each LISTed up to :data:`LIST_LIMIT` keys and compared in full with the report up
to the last key listed. Outcomes are classed ``gone`` (in the report, not in the bucket),
``not_in_report`` (in the bucket, not in the report) and ``changed`` (size or ETag
differs); each kind found comes with the advice in
:data:`exitkit.evidence.listing_record.STALE_ADVICE`.
"""

import heapq
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from exitkit.concurrency import map_bounded
from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.evidence.listing_record import STALE_ADVICE, StaleKey, StalenessRecord
from exitkit.providers.contract import ObjectInfo, ObjectSource
from exitkit.providers.retry import with_retries
from exitkit.verify.sampling import score

LIST_LIMIT = 1000
EXAMPLE_LIMIT = 100


def _drawn(infos: Iterable[ObjectInfo], count: int, seed: int) -> list[ObjectInfo]:
    """The *count* listed objects with the lowest scores, lowest first (bounded heap)."""
    return heapq.nsmallest(count, infos, key=lambda info: score(seed, info.key))


def _difference(reported: ObjectInfo, found: ObjectInfo) -> str | None:
    """What changed between a report row and the bucket, or None."""
    if reported.size != found.size:
        return f"report {reported.size} bytes, bucket {found.size} bytes"
    if reported.etag and found.etag and reported.etag != found.etag:
        return f"report ETag {reported.etag}, bucket ETag {found.etag}"
    return None


class _Findings:
    """Stale keys found so far, each counted once."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(STALE_ADVICE, 0)
        self.examples: list[StaleKey] = []
        self._seen: set[str] = set()

    def add(self, key: str, kind: str, detail: str, found_by: str) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self.counts[kind] += 1
        if len(self.examples) < EXAMPLE_LIMIT:
            self.examples.append(StaleKey(key=key, kind=kind, detail=detail, found_by=found_by))


def check_staleness(reported: Callable[[], Iterator[ObjectInfo]], source: ObjectSource,
                    heads: int, prefixes: int, seed: int, concurrency: int, max_retries: int,
                    retried: Callable[[], None], scope_prefix: str = "") -> StalenessRecord:
    """Compare the report's current objects (``reported()`` streams them in key order,
    under *scope_prefix*) with the bucket; raises EndpointError when the source refuses."""
    findings = _Findings()
    drawn = _drawn(reported(), heads, seed)

    def head(info: ObjectInfo) -> ObjectInfo | None:
        return with_retries(lambda: source.head(info.key), max_retries, retried)

    try:
        for info, found, error in map_bounded(head, drawn, concurrency):
            if isinstance(error, PermanentError):
                continue  # refused for good (an SSE-C object without its key): the copy says
            if error is not None:
                raise error
            if found is None:
                findings.add(info.key, "gone", "HEAD: not found", "head")
            elif (detail := _difference(info, found)) is not None:
                findings.add(info.key, "changed", f"HEAD: {detail}", "head")
        chosen = _prefixes(drawn, prefixes, scope_prefix)
        listed = sum(_compare_prefix(prefix, reported(), source, findings) for prefix in chosen)
    except (TransientError, PermanentError) as exc:
        raise EndpointError(source.label, f"inventory staleness check: {exc}") from None
    stale = any(findings.counts.values())
    return StalenessRecord(
        heads=len(drawn), listed_prefixes=chosen, listed_objects=listed,
        counts=findings.counts, examples=findings.examples, stale=stale,
        advice=[f"{kind}: {STALE_ADVICE[kind]}" for kind, count in findings.counts.items()
                if count])


def _prefixes(drawn: list[ObjectInfo], count: int, scope_prefix: str) -> list[str]:
    """The parent prefixes of the drawn keys, in draw order, at most *count*."""
    chosen: list[str] = []
    for info in drawn:
        parent = info.key[:info.key.rfind("/") + 1]
        prefix = parent if parent.startswith(scope_prefix) else scope_prefix
        if len(chosen) >= count:
            break
        if prefix not in chosen:
            chosen.append(prefix)
    return chosen


def _rows_under(reported: Iterator[ObjectInfo], prefix: str,
                last: str | None) -> Iterator[ObjectInfo]:
    """The report's rows under *prefix* (up to *last* when given); stops reading the
    report once past them (it comes in key order)."""
    for info in reported:
        if info.key.startswith(prefix):
            if last is not None and info.key > last:
                return
            yield info
        elif info.key > prefix:
            return


def _compare_prefix(prefix: str, reported: Iterator[ObjectInfo], source: ObjectSource,
                    findings: _Findings) -> int:
    """LIST *prefix* (up to LIST_LIMIT keys) and merge it with the report's rows under it,
    up to the last key listed; returns how many objects the LIST returned."""
    listing = sorted(islice(source.list(prefix), LIST_LIMIT), key=lambda info: info.key)
    complete = len(listing) < LIST_LIMIT
    last = listing[-1].key if listing else ""
    rows = _rows_under(reported, prefix, None if complete else last)
    in_bucket = iter(listing)
    found = next(in_bucket, None)
    for row in rows:
        while found is not None and found.key < row.key:
            findings.add(found.key, "not_in_report", "LIST: in the bucket, not in the report",
                         "list")
            found = next(in_bucket, None)
        if found is None or found.key != row.key:
            findings.add(row.key, "gone", "LIST: in the report, not in the bucket", "list")
            continue
        if (detail := _difference(row, found)) is not None:
            findings.add(row.key, "changed", f"LIST: {detail}", "list")
        found = next(in_bucket, None)
    while found is not None:
        findings.add(found.key, "not_in_report", "LIST: in the bucket, not in the report", "list")
        found = next(in_bucket, None)
    return len(listing)
