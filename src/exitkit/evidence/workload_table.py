"""Workloads as the report tables show them: one row each, shared by every format."""

from exitkit.drill.units import duration_text
from exitkit.evidence.workload_record import WorkloadRecord

WORKLOAD_COLUMNS = ("workload", "status", "image digest", "image size", "copy", "pull",
                    "time to healthy", "migrated data", "EUR/month source -> target", "teardown")


def workload_row(workload: WorkloadRecord) -> tuple[str, ...]:
    """One workload as the report tables show it (columns: :data:`WORKLOAD_COLUMNS`)."""
    image, cost, teardown = workload.image, workload.cost, workload.teardown

    def seconds(value: float | None) -> str:
        return "-" if value is None else duration_text(value)

    def monthly(side) -> str:
        return f"{side.monthly_eur:,.2f} ({side.size})" if side else "not priced"

    digest = (f"{image.target_digest[:19]}… equal" if image.digests_match
              else f"DIFFERS or unread ({image.source_digest} / {image.target_digest})")
    data = f"{workload.data.matched}/{workload.data.checked} identical" if workload.data else "-"
    return (workload.name, workload.status, digest, f"{image.bytes:,} B", seconds(image.copy_s),
            seconds(workload.pull_s), seconds(workload.time_to_healthy_s), data,
            f"{monthly(cost.source)} -> {monthly(cost.target)}" if cost else "not priced",
            ("done: " if teardown and teardown.done else "NOT DONE: ")
            + (teardown.detail if teardown else "no teardown recorded"))
