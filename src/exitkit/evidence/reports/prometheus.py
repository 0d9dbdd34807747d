"""Prometheus textfile-collector metrics for the latest run of a drill."""

from collections.abc import Sequence

from exitkit.evidence.record import DrillRecord
from exitkit.evidence.reports.facts import last_success, retries

PREFIX = "exitkit_drill_"
VERDICTS = ("passed", "failed", "error")

Sample = tuple[dict[str, str], float]


def label_value(value: str) -> str:
    """*value* escaped for a label: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(record: DrillRecord, history: Sequence[DrillRecord]) -> str:
    """Gauges of *record* labelled ``drill``; the last success is taken from *history*."""
    drill = {"drill": record.drill.name}
    succeeded = last_success(history)
    metrics: list[tuple[str, str, list[Sample]]] = [
        ("passed", "1 if the latest run passed, else 0", [(drill, record.verdict == "passed")]),
        ("verdict", "verdict of the latest run, one-hot",
         [({**drill, "verdict": verdict}, record.verdict == verdict) for verdict in VERDICTS]),
        ("duration_seconds", "wall time of the latest run", [(drill, record.duration_s)]),
        ("bytes_copied", "bytes copied by the latest run",
         [(drill, record.copy_summary.bytes_copied if record.copy_summary else 0)]),
        ("objects_copied", "objects copied by the latest run",
         [(drill, record.copy_summary.objects_copied if record.copy_summary else 0)]),
        ("completeness_ratio", "share of source objects present: listed on the target "
                               "with equal size (0 when not verified)",
         [(drill, record.verification.completeness_objects_pct / 100
           if record.verification else 0)]),
    ]
    if record.verification:
        verification = record.verification
        metrics += [
            ("objects_present", "source objects listed on the target with equal size",
             [(drill, verification.objects_present or 0)]),
            ("objects_verified", "source objects whose content was proven identical",
             [(drill, verification.objects_verified)]),
            ("verified_ratio", "share of source objects whose content was proven identical",
             [(drill, verification.objects_verified / verification.source_objects
               if verification.source_objects else 1)]),
            ("verified_bytes_ratio", "share of source bytes whose content was proven identical",
             [(drill, verification.bytes_verified / verification.source_bytes
               if verification.source_bytes else 1)]),
        ]
        if verification.sample:
            sample = verification.sample
            metrics += [
                ("sampled_objects", "objects whose content the sample checked",
                 [(drill, sample.sampled_objects)]),
                ("undetected_loss_bound_ratio", "upper confidence bound on the share of "
                 "present objects that differ undetected",
                 [({**drill, "confidence": f"{sample.confidence_pct:g}"},
                   sample.bound_objects_pct / 100)]),
                ("undetected_loss_bound_bytes_ratio", "upper confidence bound on the share of "
                 "present bytes that differ undetected",
                 [({**drill, "confidence": f"{sample.confidence_pct:g}"},
                   sample.bound_bytes_pct / 100)]),
            ]
    if record.cost:
        metrics += [
            ("cost_eur", "cost of the latest run per switching-charge regime",
             [({**drill, "regime": estimate.regime}, estimate.total_eur)
              for estimate in record.cost.drill]),
            ("projected_exit_cost_eur", "projected cost of a full exit per regime",
             [({**drill, "regime": estimate.regime}, estimate.total_eur)
              for estimate in record.cost.full_exit]),
        ]
    if record.projection:
        metrics.append(("projected_exit_duration_seconds",
                        "projected wall time of a full exit on the configured hosts",
                        [(drill, record.projection.duration_on_hosts_s)]))
        if record.projection.workers_for_transition is not None:
            metrics.append(("projected_workers_for_transition", "workers at the measured "
                            "per-worker rate that fit a full exit into 30 days",
                            [(drill, record.projection.workers_for_transition)]))
    if record.workloads:
        workloads = [({**drill, "workload": w.name}, w) for w in record.workloads]
        metrics += [
            ("workload_healthy", "1 if the workload passed its health check on the target",
             [(labels, w.status == "healthy") for labels, w in workloads]),
            ("workload_time_to_healthy_seconds", "container create to healthy (-1: never)",
             [(labels, w.time_to_healthy_s if w.time_to_healthy_s is not None else -1)
              for labels, w in workloads]),
            ("workload_torn_down", "1 if nothing of the workload was left on the runtime",
             [(labels, bool(w.teardown and w.teardown.done)) for labels, w in workloads]),
        ]
    if record.vms:
        totals = record.vms.totals
        metrics += [
            ("vms", "VMs in the migration plan by status",
             [({**drill, "status": status}, count) for status, count in
              (("portable", totals.portable), ("blocked", totals.blocked))]),
            ("vms_monthly_eur", "monthly cost of the VMs priced on both sides, by side",
             [({**drill, "side": "source"}, totals.monthly_source_eur),
              ({**drill, "side": "target"}, totals.monthly_target_eur)]),
        ]
    if record.scope:
        scope = record.scope
        metrics.append(("scope_info", "the scope the latest run tested (labels; always 1)",
                        [({**drill, "contract": scope.contract_ref, "function": scope.function,
                           "exit_plan": f"{scope.exit_plan.id}@{scope.exit_plan.version}",
                           "scenario": scope.scenario, "test_type": scope.test_type,
                           "owner": scope.owner}, 1)]))
    if record.provenance:
        metrics.append(("clock_synchronized", "1 if the host clock was synchronised when "
                        "the record was written, 0 if not, -1 unknown",
                        [({**drill, "source": record.provenance.clock.source},
                          {True: 1, False: 0, None: -1}[record.provenance.clock.synchronized])]))
    if record.vm_moves:
        moves = [({**drill, "vm": m.vm, "strategy": m.strategy}, m) for m in record.vm_moves]
        metrics += [
            ("vm_move_healthy", "1 if the moved VM passed its health check on the target",
             [(labels, m.status == "healthy") for labels, m in moves]),
            ("vm_move_time_to_healthy_seconds", "VM create to healthy (-1: never)",
             [(labels, m.time_to_healthy_s if m.time_to_healthy_s is not None else -1)
              for labels, m in moves]),
            ("vm_move_torn_down", "1 if the VM's domain and disks were removed",
             [(labels, bool(m.teardown and m.teardown.done)) for labels, m in moves]),
        ]
    metrics += [
        ("last_run_timestamp_seconds", "end of the latest run, Unix time",
         [(drill, record.ended_at.timestamp())]),
        ("last_success_timestamp_seconds", "end of the latest passed run, Unix time "
                                           "(0 if none passed)",
         [(drill, succeeded.ended_at.timestamp() if succeeded else 0)]),
        ("retries_total", "retries in the latest run (objects, listings, preflights)",
         [(drill, retries(record))]),
    ]
    return "".join(_family(PREFIX + name, help_text, samples)
                   for name, help_text, samples in metrics)


def _family(name: str, help_text: str, samples: list[Sample]) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        rendered = ",".join(f'{key}="{label_value(text)}"' for key, text in labels.items())
        lines.append(f"{name}{{{rendered}}} {_number(value)}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """Integers (and booleans) without a fraction, other values in full precision."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
