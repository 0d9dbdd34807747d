"""Moved VMs as the report tables show them: one row each, shared by every format."""

from exitkit.drill.units import duration_text
from exitkit.evidence.vm_move_record import VmMoveRecord

VM_MOVE_COLUMNS = ("VM", "strategy", "status", "size", "image SHA-256", "boot",
                   "time to healthy", "migrated data", "EUR/month source -> target", "teardown")


def vm_move_row(move: VmMoveRecord) -> tuple[str, ...]:
    """One moved VM (columns: :data:`VM_MOVE_COLUMNS`)."""
    def seconds(value: float | None) -> str:
        return "-" if value is None else duration_text(value)

    def monthly(amount: float | None, size: str | None) -> str:
        return "not priced" if amount is None else f"{amount:,.2f} ({size})"

    sizing, cost, teardown = move.sizing, move.cost, move.teardown
    size = (f"{sizing.size}: {sizing.vcpus} vCPU, {sizing.memory_mib} MiB, {sizing.disk_gib} GiB"
            if sizing else "-")
    image = ", ".join(f"{file.role} {file.sha256[:12]}…" for file in move.image.files) or (
        move.export.detail if move.export else "-")
    data = f"{move.data.matched}/{move.data.checked} identical" if move.data else "-"
    price = (f"{monthly(cost.source_eur, cost.source_size)} -> "
             f"{monthly(cost.target_eur, cost.target_size)}" if cost else "not priced")
    removal = ("-" if move.status == "not-exported" else
               ("done: " if teardown and teardown.done else "NOT DONE: ")
               + (teardown.detail if teardown else "no teardown recorded"))
    return (move.vm, move.strategy, move.status, size, image, seconds(move.boot_s),
            seconds(move.time_to_healthy_s), data, price, removal)
