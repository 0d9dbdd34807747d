"""A human summary of a drill record for the terminal (rich tables), and the one-line
texts the reports share with it."""

from collections.abc import Iterable, Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from exitkit.drill.units import duration_text
from exitkit.evidence.record import (CostEstimate, DrillRecord, Projection, RestoreRecord,
                                     SampleRecord, StorageClassCount, Verification)
from exitkit.evidence.bucket_config_record import (BUCKET_CONFIG_COLUMNS, bucket_config_text,
                                                  bucket_setting_row)
from exitkit.evidence.scope_text import scope_rows
from exitkit.evidence.vm_move_table import VM_MOVE_COLUMNS, vm_move_row
from exitkit.evidence.vm_table import VM_COLUMNS, vm_row, vm_totals_text
from exitkit.evidence.workload_table import WORKLOAD_COLUMNS, workload_row

_VERDICT_STYLE = {"passed": "bold green", "failed": "bold red", "error": "bold red"}
SHOWN_DIFFERENCES = 20


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def euros(amount: float) -> str:
    """``1234.5`` -> ``1,234.50``; amounts under one euro keep four decimals."""
    return f"{amount:,.2f}" if amount >= 1 or amount == 0 else f"{amount:.4f}"


def storage_class_text(counts: Mapping[str, StorageClassCount]) -> str:
    """``STANDARD 12 objects (3.1 MiB), GLACIER 2 objects (80.0 KiB)``."""
    return ", ".join(f"{name} {count.objects} objects ({human_bytes(count.bytes)})"
                     for name, count in counts.items()) or "none"


def restore_text(restore: RestoreRecord) -> str:
    """What happened to the archived objects: the restores asked for and where they stand."""
    asked = (f"restored at tier {restore.tier} for {restore.days} day(s)" if restore.tier
             else "no restore asked for (spec restore)")
    return (f"{restore.archived_objects} archived objects ({human_bytes(restore.archived_bytes)}), "
            f"{asked}: {restore.requested} requested by this run, {restore.requested_before} "
            f"by the interrupted run, {restore.found_restored} found restored or restoring; "
            f"copied {restore.copied}, ready {restore.ready}, pending {restore.pending}, "
            f"not requested {restore.not_requested}; waited {duration_text(restore.waited_s)}")


def restore_latency_suffix(projection: Projection) -> str:
    """`` (includes up to 2d of restores at tier bulk)``, or "" without archived objects."""
    if not projection.restore_tier:
        return ""
    return (f" (includes up to {duration_text(projection.restore_latency_s)} of restores at "
            f"tier {projection.restore_tier})")


def workers_text(projection: Projection) -> str:
    """How many workers, at the per-worker rate measured, fit the full exit into the Data
    Act's 30-day transition (records before schema 1.6 say nothing)."""
    if projection.per_worker_bytes_per_s is None:
        return ""
    rate = (f"{human_bytes(projection.per_worker_bytes_per_s)}/s and "
            f"{projection.per_worker_objects_per_s:g} objects/s per worker, measured on "
            f"{projection.workers_measured} worker(s)")
    if projection.workers_for_transition is None:
        return f"{rate}: no number of workers fits the 30-day transition"
    return (f"{rate}: {projection.workers_for_transition} worker(s) fit the full exit into "
            f"the 30-day transition")


def present_text(verification: Verification) -> str:
    """Objects listed on both sides with equal size (content proven or not sampled)."""
    if verification.objects_present is None:  # a record from before schema 1.5
        return (f"{verification.completeness_objects_pct:g}% of objects, "
                f"{verification.completeness_bytes_pct:g}% of bytes: listed with equal size")
    return (f"{verification.objects_present}/{verification.source_objects} objects "
            f"({verification.completeness_objects_pct:g}%), "
            f"{human_bytes(verification.bytes_present)} ({verification.completeness_bytes_pct:g}%"
            " of bytes): listed with equal size")


def verified_text(verification: Verification) -> str:
    """Objects whose content was proven identical, by digest or checksum."""
    if verification.objects_verified_pct is None:  # a record from before schema 1.5
        return (f"{verification.objects_verified}/{verification.source_objects} objects, "
                f"{human_bytes(verification.bytes_verified)}: content proven")
    return (f"{verification.objects_verified}/{verification.source_objects} objects "
            f"({verification.objects_verified_pct:g}%), {human_bytes(verification.bytes_verified)}"
            f" ({verification.bytes_verified_pct:g}% of bytes): content proven")


def bound_text(sample: SampleRecord) -> str:
    """The sample's combined bound: ``sampled 300/1000, 0 failed; at 95% confidence at most
    ...`` (with the whole-population note when the plan needed every object)."""
    failed = sum(stratum.failed_objects for stratum in sample.strata)
    objects = sum(stratum.objects for stratum in sample.strata)
    planned = (f"planned for < {sample.max_defect_rate_pct:g}%, " if sample.max_defect_rate_pct
               is not None else "")
    everything = "the plan needed every object, all checked; " if sample.verifies_everything \
        else ""
    strata = f"{len(sample.strata)} {'stratum' if len(sample.strata) == 1 else 'strata'}"
    return (f"{everything}{planned}sampled {sample.sampled_objects}/{objects} (seed "
            f"{sample.seed}, {strata}), {failed} failed; at "
            f"{sample.confidence_pct:g}% confidence at most {sample.bound_objects} objects "
            f"({sample.bound_objects_pct:g}%) and {sample.bound_bytes_pct:g}% of bytes differ, "
            "failures included")


def stratum_text(sample: SampleRecord) -> list[str]:
    """One line per stratum: its draw and its own bounds."""
    return [f"{s.name}: sampled {s.sampled_objects}/{s.objects}, {s.failed_objects} failed, "
            f"at most {s.bound_objects} objects ({s.bound_objects_pct:g}%, "
            f"{s.bound_bytes_pct:g}% of bytes) differ; Clopper-Pearson "
            f"{s.binomial_bound_pct:g}%" for s in sample.strata]


RESTORE_ITEM = "source restore"


def restore_cost_eur(estimate: CostEstimate) -> float | None:
    """The restore lines' share of *estimate* (None when it has none)."""
    lines = [line.amount_eur for line in estimate.lines if line.item.startswith(RESTORE_ITEM)]
    return sum(lines) if lines else None


def _rows_table(title: str, columns: Iterable[str], rows: Iterable[Iterable[str]]) -> Table:
    """A table titled *title* (on the left) with *columns*, holding *rows*."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


def render_summary(record: DrillRecord) -> Group:
    """Verdict, phases, completeness, expectations and the first differences."""
    parts = [Text.assemble(("Drill ", "bold"), (record.drill.name, "bold cyan"), ": ",
                           (record.verdict.upper(), _VERDICT_STYLE[record.verdict]),
                           f"  ({record.source.provider} {record.source.bucket} -> "
                           f"{record.target.provider} {record.target.bucket}, "
                           f"{record.duration_s:.1f}s)")]
    if record.scope:
        scope = Table(title="Scope", title_justify="left", show_header=False)
        scope.add_column("what")
        scope.add_column("value", overflow="fold")
        for label, value in scope_rows(record):
            scope.add_row(label, value)
        parts.append(scope)
    phases = Table(title="Phases", title_justify="left")
    for column in ("phase", "duration", "objects", "bytes", "objects/s", "throughput", "retries"):
        phases.add_column(column, justify="left" if column == "phase" else "right")
    for phase in record.phases:
        phases.add_row(phase.name, f"{phase.duration_s:.2f}s", str(phase.objects),
                       human_bytes(phase.bytes), f"{phase.objects_per_s:.1f}",
                       f"{human_bytes(phase.bytes_per_s)}/s", str(phase.retries))
    parts.append(phases)
    if record.verification:
        verification = record.verification
        table = Table(title="Completeness", title_justify="left")
        table.add_column("class")
        table.add_column("objects", justify="right")
        for name, count in verification.counts.items():
            if count or name == "matched":
                table.add_row(name, str(count))
        table.add_row("present", present_text(verification))
        table.add_row("verified", verified_text(verification))
        if verification.sample:
            table.add_row("sample bound", bound_text(verification.sample))
            for line in stratum_text(verification.sample):
                table.add_row("  stratum", line)
        methods = ", ".join(f"{name}: {count}" for name, count in verification.methods.items())
        table.add_row("methods", methods or "-")
        parts.append(table)
        for side, counts in verification.storage_classes.items():
            parts.append(Text(f"storage classes ({side}): {storage_class_text(counts)}"))
        for gap in verification.gaps:
            parts.append(Text(f"gap: {gap}", style="yellow"))
    if record.copy_summary and record.copy_summary.restore:
        parts.append(Text(f"Restores: {restore_text(record.copy_summary.restore)}"))
    listing = record.listing
    if listing and listing.source == "inventory-report":
        parts.append(Text(f"Listed from the inventory report of {listing.report_date:%Y-%m-%d} "
                          f"({listing.report_age_days:g} days old): {listing.manifest}"))
        staleness = listing.staleness
        if staleness:
            found = ", ".join(f"{count} {kind}" for kind, count in staleness.counts.items()
                              if count) or "nothing stale"
            parts.append(Text(f"Report staleness: {found} ({staleness.heads} HEADs, "
                              f"{staleness.listed_objects} objects listed)",
                              style="yellow" if staleness.stale else ""))
            for advice in staleness.advice:
                parts.append(Text(f"  {advice}", style="yellow"))
    if record.properties:
        for key in record.properties.census.kms_keys:
            parts.append(Text(f"exit dependency: KMS key {key.key_id}: {key.objects} objects, "
                              f"{human_bytes(key.bytes)}"))
    if record.projection:
        projection = record.projection
        days = projection.duration_on_hosts_s / 86400
        parts.append(Text(
            f"Projected full exit: {projection.estate_objects} objects, "
            f"{human_bytes(projection.estate_bytes)} in {days:.2f} days on {projection.hosts} "
            f"host(s){restore_latency_suffix(projection)}; EU Data Act 30-day transition: "
            f"{'fits' if projection.fits_transition else 'DOES NOT FIT'}"))
        if workers_text(projection):
            parts.append(Text(f"Workers: {workers_text(projection)}"))
    if record.distributed:
        spread = record.distributed
        parts.append(Text(f"Distributed on {spread.workers} Dask worker(s) of "
                          f"{spread.scheduler}: {len(spread.shards)} shard(s), "
                          f"{spread.reassigned_shards} reassigned after a worker died"))
    if record.cost:
        cost = record.cost
        table = Table(title=f"Cost in EUR ({cost.source_catalog} -> {cost.target_catalog}; "
                            f"applicable on {cost.drill_date}: {cost.applicable_regime})",
                      title_justify="left")
        for column in ("regime", "this drill", "full exit"):
            table.add_column(column, justify="left" if column == "regime" else "right")
        for drill, full in zip(cost.drill, cost.full_exit):
            table.add_row(drill.regime, euros(drill.total_eur), euros(full.total_eur))
        restores = [(restore_cost_eur(drill), restore_cost_eur(full))
                    for drill, full in zip(cost.drill, cost.full_exit)
                    if drill.regime == cost.applicable_regime]
        if restores and restores[0] != (None, None):
            drill_restores, full_restores = restores[0]
            table.add_row("of which restores", euros(drill_restores or 0.0),
                          euros(full_restores or 0.0))
        table.add_row("storage/month", f"source {euros(cost.monthly_source_eur)}",
                      f"target {euros(cost.monthly_target_eur)}")
        parts.append(table)
    if record.workloads:
        parts.append(_rows_table("Workloads", WORKLOAD_COLUMNS,
                                 map(workload_row, record.workloads)))
    if record.bucket_config:
        parts.append(_rows_table(
            f"Bucket settings: {bucket_config_text(record.bucket_config)}", BUCKET_CONFIG_COLUMNS,
            (bucket_setting_row(setting) for setting in record.bucket_config.settings
             if setting.state != "absent")))
    if record.vms:
        parts.append(_rows_table(f"VM plan: {vm_totals_text(record.vms)}", VM_COLUMNS,
                                 map(vm_row, record.vms.vms)))
    if record.vm_moves:
        parts.append(_rows_table("VM moves", VM_MOVE_COLUMNS, map(vm_move_row, record.vm_moves)))
    expectations = Table(title="Expectations", title_justify="left")
    for column in ("expectation", "expected", "measured", "result"):
        expectations.add_column(column)
    for result in record.expectations:
        expectations.add_row(result.name, result.expected, result.measured,
                             Text("pass", "green") if result.passed else Text("FAIL", "bold red"))
    parts.append(expectations)
    if record.verification and record.verification.differences:
        differences = record.verification.differences
        table = Table(title=f"Differences (first {min(len(differences), SHOWN_DIFFERENCES)})",
                      title_justify="left")
        for column in ("key", "class", "detail"):
            table.add_column(column)
        for difference in differences[:SHOWN_DIFFERENCES]:
            table.add_row(difference.key, difference.kind, difference.detail)
        parts.append(table)
    for error in record.errors:
        parts.append(Text(f"error: {error}", style="bold red"))
    return Group(*parts)
