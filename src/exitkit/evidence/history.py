"""A drill's past runs, read from the ledger: verdict, duration, completeness and cost."""

import os
from dataclasses import dataclass
from datetime import datetime

from rich.table import Table

from exitkit.drill.scope_spec import SCENARIOS, TEST_TYPES, normalised_choice
from exitkit.errors import ExitkitError
from exitkit.evidence.ledger import read_entries
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.reports.facts import completeness_pct, drill_cost_eur
from exitkit.evidence.store import read_record
from exitkit.evidence.summary import euros, human_bytes


@dataclass(frozen=True)
class HistoryRow:
    """One run as the history shows it."""

    entry: int
    drill: str
    run_id: str
    started_at: datetime
    verdict: str
    duration_s: float
    bytes_copied: int
    completeness_pct: float | None
    objects_present: int | None
    objects_verified: int | None
    verified_pct: float | None
    bound_pct: float | None
    cost_eur: float | None
    regime: str | None
    contract_ref: str | None = None
    function: str | None = None
    exit_plan: str | None = None
    scenario: str | None = None
    test_type: str | None = None
    timestamped_at: str | None = None


@dataclass(frozen=True)
class ScopeFilter:
    """Which runs to keep, by the scope they tested; None keeps every value."""

    contract: str | None = None
    function: str | None = None
    exit_plan: str | None = None
    scenario: str | None = None
    test_type: str | None = None

    @classmethod
    def of(cls, **values: str | None) -> "ScopeFilter":
        """A filter from command-line values; an unknown scenario or test type is an
        error naming the option."""
        for option, allowed in (("scenario", SCENARIOS), ("test_type", TEST_TYPES)):
            given = values.get(option)
            if given is not None:
                values[option] = normalised_choice(given)
                if values[option] not in allowed:
                    raise ExitkitError(f"--{option.replace('_', '-')}: {given!r} is not one "
                                       f"of {', '.join(allowed)}")
        return cls(**values)

    @property
    def active(self) -> bool:
        """True when any value is set."""
        return any(vars(self).values())

    def matches(self, record: DrillRecord) -> bool:
        """True when *record*'s scope has every value set here (a run without a scope
        matches only an inactive filter)."""
        if not self.active:
            return True
        scope = record.scope
        if scope is None:
            return False
        plan = f"{scope.exit_plan.id}@{scope.exit_plan.version}"
        return ((self.contract is None or scope.contract_ref == self.contract)
                and (self.function is None or scope.function == self.function)
                and (self.exit_plan is None or self.exit_plan in (scope.exit_plan.id, plan))
                and (self.scenario is None or scope.scenario == self.scenario)
                and (self.test_type is None or scope.test_type == self.test_type))


def is_ledger(path: str | os.PathLike[str]) -> bool:
    """True when *path* is a ledger (JSON Lines of chained entries), not a single record."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise ExitkitError(f"{path}: cannot read ({exc.strerror})") from None
    return first.startswith(b"{") and b'"prev_sha256":' in first


def runs_for_report(path: str | os.PathLike[str], drill: str | None = None
                    ) -> tuple[DrillRecord, list[DrillRecord]]:
    """The run to report on and its drill's history, from a record file or a ledger.

    From a ledger: the latest run (of *drill*, when given) and every run of that drill.
    """
    if not is_ledger(path):
        try:
            record = read_record(path)
        except ValueError:
            raise ExitkitError(f"{path}: neither a drill record nor a ledger") from None
        return record, [record]
    records = [entry.record for entry in read_entries(path)]
    if drill is not None:
        records = [record for record in records if record.drill.name == drill]
    if not records:
        raise ExitkitError(f"{path}: no runs" + (f" of drill {drill!r}" if drill else ""))
    latest = records[-1]
    return latest, [record for record in records if record.drill.name == latest.drill.name]


def history_rows(ledger: str | os.PathLike[str], drill: str | None = None,
                 scope: ScopeFilter | None = None) -> list[HistoryRow]:
    """One row per run in *ledger*, oldest first, only *drill*'s and those *scope*
    matches when given."""
    rows = []
    for entry in read_entries(ledger):
        record = entry.record
        verification = record.verification
        if drill is not None and record.drill.name != drill:
            continue
        if scope is not None and not scope.matches(record):
            continue
        tested = record.scope
        rows.append(HistoryRow(
            entry=entry.number, drill=record.drill.name, run_id=record.run_id,
            started_at=record.started_at, verdict=record.verdict, duration_s=record.duration_s,
            bytes_copied=record.copy_summary.bytes_copied if record.copy_summary else 0,
            completeness_pct=completeness_pct(record),
            objects_present=verification.objects_present if verification else None,
            objects_verified=verification.objects_verified if verification else None,
            verified_pct=verification.objects_verified_pct if verification else None,
            bound_pct=verification.sample.bound_objects_pct
            if verification and verification.sample else None,
            cost_eur=drill_cost_eur(record),
            regime=record.cost.applicable_regime if record.cost else None,
            contract_ref=tested.contract_ref if tested else None,
            function=tested.function if tested else None,
            exit_plan=f"{tested.exit_plan.id}@{tested.exit_plan.version}" if tested else None,
            scenario=tested.scenario if tested else None,
            test_type=tested.test_type if tested else None,
            timestamped_at=entry.timestamped_at))
    return rows


def history_table(rows: list[HistoryRow]) -> Table:
    """The rows as a terminal table."""
    table = Table(title="Drill history", title_justify="left")
    numeric = ("#", "duration", "copied", "present", "verified", "bound", "cost EUR")
    for column in ("#", "started (UTC)", "drill", "verdict", "duration", "copied",
                   "present", "verified", "bound", "cost EUR"):
        table.add_column(column, justify="right" if column in numeric else "left")
    scoped = any(row.contract_ref for row in rows)
    if scoped:
        table.add_column("contract")
    for row in rows:
        cells = [str(row.entry), row.started_at.strftime("%Y-%m-%d %H:%M:%S"), row.drill,
                 row.verdict, f"{row.duration_s:.1f}s", human_bytes(row.bytes_copied),
                 _count_pct(row.objects_present, row.completeness_pct),
                 _count_pct(row.objects_verified, row.verified_pct),
                 "-" if row.bound_pct is None else f"<= {row.bound_pct:g}%",
                 "-" if row.cost_eur is None else euros(row.cost_eur)]
        if scoped:
            cells.append(row.contract_ref or "-")
        table.add_row(*cells)
    return table


def _count_pct(count: int | None, pct: float | None) -> str:
    """``1514 (100%)``, or ``-`` when not verified."""
    return "-" if count is None or pct is None else f"{count} ({pct:g}%)"
