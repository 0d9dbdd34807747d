"""The self-contained HTML report: one file, inline CSS and SVG, no script, no URL."""

from collections.abc import Sequence

import jinja2

from exitkit.evidence.record import DrillRecord
from exitkit.evidence.reports import charts
from exitkit.drill.units import duration_text
from exitkit.evidence.reports.facts import (completeness_pct, drill_cost_eur,
                                            exit_dependencies,
                                            utc_text, without_scheme)
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

_environment = jinja2.Environment(loader=jinja2.PackageLoader("exitkit.evidence.reports"),
                                  autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)
_environment.filters.update(bytes=human_bytes, euros=euros, duration=duration_text,
                            utc=utc_text, without_scheme=without_scheme)
_environment.globals.update(zip=zip, restore_text=restore_text,
                            storage_class_text=storage_class_text,
                            restore_cost_eur=restore_cost_eur,
                            restore_latency_suffix=restore_latency_suffix,
                            workers_text=workers_text,
                            present_text=present_text, verified_text=verified_text,
                            bound_text=bound_text, stratum_text=stratum_text)


def render_html(record: DrillRecord, history: Sequence[DrillRecord]) -> str:
    """The record as an HTML page; *history* (chronological, ending with it) feeds the trends."""
    return _environment.get_template("report.html.j2").render(
        record=record,
        history=[(run, drill_cost_eur(run), completeness_pct(run)) for run in history],
        shown_differences=SHOWN_DIFFERENCES,
        exit_dependencies=exit_dependencies(record),
        throughput_chart=charts.throughput_chart(record),
        completeness_chart=charts.completeness_chart(record.verification)
        if record.verification else None,
        cost_charts=charts.cost_charts(record.cost) if record.cost else [],
        projection_chart=charts.projection_chart(record.projection)
        if record.projection else None,
        trend_charts=charts.trend_charts(history),
        workload_columns=WORKLOAD_COLUMNS,
        workload_rows=[workload_row(workload) for workload in record.workloads],
        bucket_config_text=bucket_config_text(record.bucket_config)
        if record.bucket_config else None,
        bucket_config_columns=BUCKET_CONFIG_COLUMNS,
        bucket_config_rows=[bucket_setting_row(setting) for setting in
                            record.bucket_config.settings] if record.bucket_config else [],
        vm_columns=VM_COLUMNS,
        vm_totals=vm_totals_text(record.vms) if record.vms else None,
        vm_rows=[vm_row(vm) for vm in record.vms.vms] if record.vms else [],
        scope_rows=scope_rows(record),
        provenance_rows=provenance_rows(record),
        vm_move_columns=VM_MOVE_COLUMNS,
        vm_move_rows=[vm_move_row(move) for move in record.vm_moves],
    )
