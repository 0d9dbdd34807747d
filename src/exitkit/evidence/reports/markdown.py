"""Markdown for tickets and pull requests: verdict, tables, cost, projection, differences."""

from collections.abc import Iterable, Sequence

from exitkit.evidence.record import CostEstimate, DrillRecord
from exitkit.drill.units import duration_text
from exitkit.evidence.reports.facts import exit_dependencies, utc_text
from exitkit.evidence.scope_text import provenance_rows, scope_rows
from exitkit.evidence.vm_move_table import VM_MOVE_COLUMNS, vm_move_row
from exitkit.evidence.vm_table import VM_COLUMNS, vm_row, vm_totals_text
from exitkit.evidence.bucket_config_record import (BUCKET_CONFIG_COLUMNS, bucket_config_text,
                                                  bucket_setting_row)
from exitkit.evidence.workload_table import WORKLOAD_COLUMNS, workload_row
from exitkit.evidence.summary import (SHOWN_DIFFERENCES, bound_text, euros, human_bytes,
                                     present_text, restore_cost_eur, restore_latency_suffix,
                                     restore_text, storage_class_text, stratum_text,
                                     verified_text, workers_text)

_VERDICT_MARK = {"passed": "✅", "failed": "❌", "error": "⛔"}
_SPECIAL = set("\\`*_[]<|&~")


def cell(text: object) -> str:
    """*text* safe inside a table cell: Markdown punctuation (``|`` too) escaped, one line."""
    return "".join("\\" + char if char in _SPECIAL else char
                   for char in " ".join(str(text).splitlines()))


def render_markdown(record: DrillRecord) -> str:
    """The record as Markdown, most important first."""
    parts = [_verdict(record), _expectations(record), _phases(record), _completeness(record),
             _workloads(record), _bucket_config(record), _vms(record), _vm_moves(record),
             _cost(record), _projection(record), _differences(record),
             _errors(record)]
    parts[1:1] = [_scope(record)]  # what the run tested, right after the verdict
    parts[-1:-1] = [_provenance(record)]
    return "\n\n".join(part for part in parts if part) + "\n"


def _scope(record: DrillRecord) -> str:
    rows = scope_rows(record)
    return "### Scope\n\n" + _table(("what", "value"), rows) if rows else ""


def _provenance(record: DrillRecord) -> str:
    rows = provenance_rows(record)
    return "### Provenance\n\n" + _table(("what", "value"), rows) if rows else ""


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(record: DrillRecord) -> str:
    source, target = record.source, record.target
    return (f"## {_VERDICT_MARK[record.verdict]} Exit drill {cell(record.drill.name)}: "
            f"**{record.verdict.upper()}** (exit code {record.exit_code})\n\n"
            f"{cell(source.provider)} {cell(source.bucket)}/{cell(source.prefix)} → "
            f"{cell(target.provider)} {cell(target.bucket)}/{cell(target.prefix)}, "
            f"{utc_text(record.started_at)}, {duration_text(record.duration_s)}, "
            f"run {record.run_id}")


def _expectations(record: DrillRecord) -> str:
    return "### Expectations\n\n" + _table(
        ("expectation", "expected", "measured", "result"),
        ((result.name, result.expected, result.measured, "pass" if result.passed else "FAIL")
         for result in record.expectations))


def _phases(record: DrillRecord) -> str:
    return "### Phases\n\n" + _table(
        ("phase", "duration", "objects", "bytes", "throughput", "retries"),
        ((phase.name, duration_text(phase.duration_s), phase.objects, human_bytes(phase.bytes),
          f"{human_bytes(phase.bytes_per_s)}/s", phase.retries) for phase in record.phases))


def _completeness(record: DrillRecord) -> str:
    verification = record.verification
    if verification is None:
        return "### Completeness\n\nNot verified."
    methods = ", ".join(f"{name} {count}" for name, count in verification.methods.items())
    text = (f"### Completeness\n\n- present: {cell(present_text(verification))}\n"
            f"- verified: {cell(verified_text(verification))}; "
            f"methods: {cell(methods or 'none')}\n")
    if verification.sample:
        text += f"- sample bound: {cell(bound_text(verification.sample))}\n"
        text += "".join(f"  - stratum {cell(line)}\n"
                        for line in stratum_text(verification.sample))
    text += "\n"
    text += _table(("class", "objects"), verification.counts.items())
    text += "".join(f"\n\n- storage classes ({side}): {cell(storage_class_text(counts))}"
                    for side, counts in verification.storage_classes.items())
    if record.copy_summary and record.copy_summary.restore:
        text += f"\n\n- restores: {cell(restore_text(record.copy_summary.restore))}"
    text += "".join(f"\n\n- gap: {cell(gap)}" for gap in verification.gaps)
    return text + "".join(f"\n\n- exit dependency: {cell(dependency)}"
                          for dependency in exit_dependencies(record))


def _workloads(record: DrillRecord) -> str:
    if not record.workloads:
        return ""
    return "### Workloads\n\n" + _table(WORKLOAD_COLUMNS,
                                        map(workload_row, record.workloads))


def _bucket_config(record: DrillRecord) -> str:
    if record.bucket_config is None:
        return ""
    return (f"### Bucket settings\n\n{cell(bucket_config_text(record.bucket_config))}\n\n"
            + _table(BUCKET_CONFIG_COLUMNS, map(bucket_setting_row,
                                                record.bucket_config.settings)))


def _vms(record: DrillRecord) -> str:
    if record.vms is None:
        return ""
    return (f"### VM plan\n\n{cell(vm_totals_text(record.vms))}\n\n"
            + _table(VM_COLUMNS, map(vm_row, record.vms.vms)))


def _vm_moves(record: DrillRecord) -> str:
    if not record.vm_moves:
        return ""
    return "### VM moves\n\n" + _table(VM_MOVE_COLUMNS, map(vm_move_row, record.vm_moves))


def _cost(record: DrillRecord) -> str:
    cost = record.cost
    if cost is None:
        return ""
    return (f"### Cost (EUR)\n\n{cell(cost.source_catalog)} → {cell(cost.target_catalog)}; "
            f"on {cost.drill_date} the regime **{cell(cost.applicable_regime)}** applies.\n\n"
            + _table(("regime", "this drill", "full exit", "of which restores"),
                     ((drill.regime + (" (applies)" if drill.regime == cost.applicable_regime
                                       else ""), euros(drill.total_eur), euros(full.total_eur),
                       _restores(drill, full))
                      for drill, full in zip(cost.drill, cost.full_exit))))


def _restores(drill: CostEstimate, full: CostEstimate) -> str:
    amounts = restore_cost_eur(drill), restore_cost_eur(full)
    if amounts == (None, None):
        return "-"
    return " / ".join(euros(amount or 0.0) for amount in amounts)


def _projection(record: DrillRecord) -> str:
    projection = record.projection
    if projection is None:
        return ""
    return (f"### Projected full exit\n\n{projection.estate_objects} objects, "
            f"{human_bytes(projection.estate_bytes)}: "
            f"{duration_text(projection.duration_on_hosts_s)} on {projection.hosts} host(s)"
            f"{restore_latency_suffix(projection)}. "
            f"EU Data Act transition ({projection.data_act_transition_days} days): "
            f"{_fits(projection.fits_transition)}; extended ({projection.data_act_extended_days} "
            f"days): {_fits(projection.fits_extended)}."
            + (f" Workers: {workers_text(projection)}." if workers_text(projection) else ""))


def _fits(fits: bool) -> str:
    return "fits" if fits else "**does not fit**"


def _differences(record: DrillRecord) -> str:
    if record.verification is None or not record.verification.differences:
        return ""
    shown = record.verification.differences[:SHOWN_DIFFERENCES]
    return f"### First differences ({len(shown)})\n\n" + _table(
        ("key", "class", "detail"),
        ((difference.key, difference.kind, difference.detail) for difference in shown))


def _errors(record: DrillRecord) -> str:
    if not record.errors:
        return ""
    return "### Errors\n\n" + "\n".join(f"- {cell(error)}" for error in record.errors)
