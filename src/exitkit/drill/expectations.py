"""Judge a drill's measurements against the spec's expectations."""

from datetime import timedelta

from exitkit.drill.spec import Expectations
from exitkit.drill.units import duration_text
from exitkit.evidence.bucket_config_record import BucketConfigRecord, bucket_config_text
from exitkit.evidence.record import CostReport, ExpectationResult, Projection, Verification
from exitkit.evidence.vm_move_record import VmMoveRecord, VmTeardownRecord
from exitkit.evidence.workload_record import DataCheckRecord, TeardownRecord, WorkloadRecord


def _format_duration(value: timedelta) -> str:
    return duration_text(value.total_seconds())


def _limit(name: str, limit, measured, shown: str, unit_format) -> ExpectationResult:
    if measured is None:
        return ExpectationResult(name=name, expected=f"<= {unit_format(limit)}",
                                 measured=f"not measured ({shown})", passed=False)
    return ExpectationResult(name=name, expected=f"<= {unit_format(limit)}",
                             measured=unit_format(measured), passed=measured <= limit)


def _eur(amount: float) -> str:
    return f"{amount:,.2f} EUR"


def evaluate(expected: Expectations, verification: Verification | None, duration: timedelta,
             projection: Projection | None = None,
             cost: CostReport | None = None) -> list[ExpectationResult]:
    """Return one result per expectation, each with what was measured."""
    results = []
    if verification is None:
        results.append(ExpectationResult(name="completeness",
                                         expected=f">= {expected.completeness:g}%",
                                         measured="not verified", passed=False))
    else:
        scope = verification.source_objects
        present = sum(verification.counts.get(kind, 0) for kind in
                      ("matched", "not_sampled", "property_lost_accepted"))
        passed = present * 100 >= expected.completeness * scope
        missing = scope - present
        measured = f"{verification.completeness_objects_pct:g}% ({present}/{scope} objects"
        measured += f", {missing} missing or different)" if missing else ")"
        results.append(ExpectationResult(name="completeness",
                                         expected=f">= {expected.completeness:g}%",
                                         measured=measured, passed=passed))
    if expected.max_undetected_loss is not None:
        results.append(_undetected_loss(expected.max_undetected_loss, verification))
    if expected.max_duration is not None:
        results.append(ExpectationResult(
            name="max_duration", expected=f"<= {_format_duration(expected.max_duration)}",
            measured=_format_duration(duration), passed=duration <= expected.max_duration))
    applicable = None
    if cost is not None:
        applicable = {estimate.regime: estimate for estimate in cost.drill}[cost.applicable_regime]
        exit_estimate = {e.regime: e for e in cost.full_exit}[cost.applicable_regime]
    if expected.max_cost is not None:
        results.append(_limit("max_cost", expected.max_cost,
                              applicable.total_eur if applicable else None,
                              "no catalog prices for both sides", _eur))
    if expected.max_projected_cost is not None:
        results.append(_limit("max_projected_cost", expected.max_projected_cost,
                              exit_estimate.total_eur if applicable else None,
                              "no catalog prices for both sides", _eur))
    if expected.max_projected_duration is not None:
        on_hosts = (timedelta(seconds=projection.duration_on_hosts_s)
                    if projection else None)
        results.append(_limit("max_projected_duration", expected.max_projected_duration,
                              on_hosts, "no copy throughput measured", _format_duration))
    return results


def _undetected_loss(limit: float, verification: Verification | None) -> ExpectationResult:
    """The sample's combined bound on objects that differ must not exceed *limit* (a
    percentage); a full verification leaves nothing undetected."""
    expected = f"<= {limit:g}% of objects differ undetected"
    if verification is None:
        return ExpectationResult(name="max_undetected_loss", expected=expected,
                                 measured="not verified", passed=False)
    sample = verification.sample
    if sample is None:
        return ExpectationResult(name="max_undetected_loss", expected=expected,
                                 measured="0% (every object's content checked)", passed=True)
    return ExpectationResult(
        name="max_undetected_loss", expected=expected,
        measured=f"<= {sample.bound_objects_pct:g}% ({sample.bound_objects} objects) at "
                 f"{sample.confidence_pct:g}% confidence, {sample.sampled_objects} sampled",
        passed=sample.bound_objects_pct <= limit)


def _serves_data(name: str, data: DataCheckRecord | None) -> ExpectationResult:
    """``<name>: serves migrated data``: every object of the data check (*data*, None when
    it did not run) read back identical."""
    return ExpectationResult(
        name=f"{name}: serves migrated data", expected="every checked object identical",
        measured=f"{data.matched}/{data.checked} objects identical" if data else "not checked",
        passed=bool(data and data.passed))


def _torn_down(name: str, expected: str,
               teardown: TeardownRecord | VmTeardownRecord | None) -> ExpectationResult:
    """``<name>: torn down``: the *teardown* (None when none was recorded) removed all it
    says in *expected*."""
    return ExpectationResult(
        name=f"{name}: torn down", expected=expected,
        measured=teardown.detail if teardown else "no teardown recorded",
        passed=bool(teardown and teardown.done))


def workload_expectations(expected: Expectations, workloads: list[WorkloadRecord],
                          data_checked: set[str]) -> list[ExpectationResult]:
    """What every workload must show: its image unchanged on the target registry, healthy
    on the target, serving the migrated data when checked, removed again; and the time
    to healthy when the spec limits it. *data_checked* names the services whose spec asks
    for the data check."""
    results = []
    for workload in workloads:
        name, image = f"workload {workload.name}", workload.image
        results.append(ExpectationResult(
            name=f"{name}: image digest", expected="equal on both registries",
            measured=f"{image.target_digest}" if image.digests_match else
            f"source {image.source_digest}, target {image.target_digest}",
            passed=image.digests_match))
        health = workload.health
        results.append(ExpectationResult(
            name=f"{name}: healthy", expected="health check passes",
            measured=health.detail if health else "not started", passed=bool(health and
                                                                             health.passed)))
        if workload.name in data_checked:
            results.append(_serves_data(name, workload.data))
        if expected.max_time_to_healthy is not None:
            limit = expected.max_time_to_healthy
            results.append(_limit(f"{name}: max_time_to_healthy", limit,
                                  timedelta(seconds=workload.time_to_healthy_s)
                                  if workload.time_to_healthy_s is not None else None,
                                  "never healthy", _format_duration))
        results.append(_torn_down(name, "nothing left running", workload.teardown))
    return results


def bucket_config_expectation(record: BucketConfigRecord) -> ExpectationResult:
    """``bucket_config``: every setting the source bucket holds is on the target, read back
    (as translated), or its loss is accepted in ``expectations.accept_gaps``."""
    return ExpectationResult(name="bucket_config",
                             expected="every source bucket setting carried and read back",
                             measured=bucket_config_text(record),
                             passed=not record.not_carried())
def vm_move_expectations(expected: Expectations, moves: list[VmMoveRecord],
                         data_checked: set[str]) -> list[ExpectationResult]:
    """What every moved VM must show: moved (an import needs an exported disk), healthy on
    the target, serving the migrated data when checked, removed again; and the time to
    healthy when the spec limits it. *data_checked* names the moves (``vm`` as the spec
    gives it) whose spec asks for the data check."""
    results = []
    for move in moves:
        name = f"vm {move.vm}"
        if move.status == "not-exported":
            results.append(ExpectationResult(
                name=f"{name}: moved", expected=f"{move.strategy} on the target",
                measured=move.export.detail if move.export else "not exported", passed=False))
            continue
        health = move.health
        results.append(ExpectationResult(
            name=f"{name}: healthy", expected=f"{move.strategy}: boots and passes its health "
                                              "check",
            measured=health.detail if health else "; ".join(move.errors) or "not started",
            passed=bool(health and health.passed)))
        if {move.vm, move.instance_id} & data_checked:
            results.append(_serves_data(name, move.data))
        if expected.max_vm_time_to_healthy is not None:
            results.append(_limit(f"{name}: max_vm_time_to_healthy",
                                  expected.max_vm_time_to_healthy,
                                  timedelta(seconds=move.time_to_healthy_s)
                                  if move.time_to_healthy_s is not None else None,
                                  "never healthy", _format_duration))
        results.append(_torn_down(name, "domain, disks and seed removed", move.teardown))
    return results
