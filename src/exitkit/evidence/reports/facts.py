"""Values derived from a record that several report formats share."""

from collections.abc import Sequence
from datetime import UTC, datetime

from exitkit.evidence.record import CostEstimate, DrillRecord
from exitkit.evidence.summary import human_bytes

SECONDS_PER_DAY = 86400


def applicable_estimate(estimates: Sequence[CostEstimate], regime: str) -> CostEstimate | None:
    """The estimate priced under *regime*, if there is one."""
    return next((estimate for estimate in estimates if estimate.regime == regime), None)


def drill_cost_eur(record: DrillRecord) -> float | None:
    """What this drill cost under the regime that applied on its date (None: not priced)."""
    if record.cost is None:
        return None
    estimate = applicable_estimate(record.cost.drill, record.cost.applicable_regime)
    return estimate.total_eur if estimate else None


def completeness_pct(record: DrillRecord) -> float | None:
    """Share of source objects present: listed on the target with equal size (None: not
    verified). Content proven is ``verification.objects_verified_pct``."""
    return record.verification.completeness_objects_pct if record.verification else None


def retries(record: DrillRecord) -> int:
    """Every retry of the run: per object in the phases, plus listings and preflights."""
    return (sum(phase.retries for phase in record.phases)
            + sum(counts.retries for counts in record.requests.values()))


def last_success(history: Sequence[DrillRecord]) -> DrillRecord | None:
    """The latest passed run in *history* (chronological), if any."""
    return next((run for run in reversed(history) if run.verdict == "passed"), None)


def utc_text(moment: datetime) -> str:
    """``2026-11-23 10:54:02 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def without_scheme(url: str) -> str:
    """``https://host/path`` -> ``host/path``: shown as text, never a reference to fetch."""
    scheme, separator, rest = url.partition("://")
    return rest if separator and scheme.isalpha() else url


def exit_dependencies(record: DrillRecord) -> list[str]:
    """What the exit depends on beyond the data: each source KMS key (keys cannot be
    exported) with the objects and bytes it encrypts."""
    if record.properties is None:
        return []
    return [f"KMS key {key.key_id}: {key.objects} objects, {human_bytes(key.bytes)}"
            for key in record.properties.census.kms_keys]
