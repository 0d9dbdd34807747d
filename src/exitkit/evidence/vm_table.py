"""The VM migration plan as the report tables show it, shared by every format."""

from exitkit.evidence.vm_record import VmPlan, VmPlanEntry

VM_COLUMNS = ("VM", "type", "target size", "EUR/month source", "EUR/month target", "status",
              "why blocked")


def vm_totals_text(plan: VmPlan) -> str:
    """``3 VMs (2 portable, 1 blocked); per month ... EUR at the source, ... on the target``."""
    totals = plan.totals
    return (f"{totals.vms} VMs ({totals.portable} portable, {totals.blocked} blocked) "
            f"for {plan.target_catalog}; per month over the {totals.compared_vms} priced on "
            f"both sides: {totals.monthly_source_eur:,.2f} EUR at the source, "
            f"{totals.monthly_target_eur:,.2f} EUR on the target")


def vm_row(vm: VmPlanEntry) -> tuple[str, ...]:
    """One VM (columns: :data:`VM_COLUMNS`)."""
    def monthly(size) -> str:
        return f"{size.price_month_eur:,.2f}" if size else "not priced"

    return (f"{vm.name} ({vm.id})" if vm.name and vm.name != vm.id else vm.id, vm.instance_type,
            vm.target_size.name if vm.target_size else "-", monthly(vm.source_size),
            monthly(vm.target_size), vm.status,
            "; ".join(f"{b.code}: {b.detail}" for b in vm.blockers) or "-")
