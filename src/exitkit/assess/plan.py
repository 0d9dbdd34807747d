"""The exit plan: the assessment rendered for people, as a terminal summary, Markdown and
a self-contained HTML page (inline CSS, no script, no URL fetched)."""

from collections.abc import Iterator

import jinja2
from rich.console import Group
from rich.table import Table
from rich.text import Text

from exitkit.assess.model import Asset, Assessment, AssetProjection, SizeMeasure
from exitkit.drill.units import duration_text
from exitkit.evidence.reports.facts import utc_text, without_scheme
from exitkit.evidence.summary import euros, human_bytes

PLAN_FORMATS = ("html", "md")
_BOUND_MARK = {"exact": "", "lower bound": "≥ ", "upper bound": "≤ "}


def asset_label(asset: Asset) -> str:
    """The asset's id, with its name where the id does not show it (``ec2:i-0abc (web-1)``)."""
    return asset.id if asset.name in asset.id else f"{asset.id} ({asset.name})"


def size_text(size: SizeMeasure) -> str:
    """``≥ 1.2 MiB in 1,000 objects (sample)``: the figure, its bound and its method."""
    if size.bytes is None:
        return f"unknown ({size.method})"
    mark = "" if size.exact else ("≤ " if size.method == "provisioned" else "≥ "
                                  if size.method == "sample" else "~")
    objects = f" in {size.objects:,} objects" if size.objects is not None else ""
    return f"{mark}{human_bytes(size.bytes)}{objects} ({size.method})"


def applicable_cost(projection: AssetProjection | None, regime: str) -> str:
    """The cost under *regime* with its bound, or ``-``."""
    if projection is None:
        return "-"
    estimate = next(e for e in projection.costs if e.regime == regime)
    return f"{_BOUND_MARK[projection.cost_bound]}{euros(estimate.total_eur)} EUR"


def time_text(projection: AssetProjection | None) -> str:
    """The projected duration with its basis, or ``-`` when the size is unknown."""
    if projection is None:
        return "- (size unknown)"
    label = "default" if projection.basis == "default" else "measured"
    return f"{duration_text(projection.duration_s)} ({label})"


def coverage_text(asset: Asset) -> str:
    """``demo: passed 2026-11-30 (ledger entry 3)`` or ``never drilled``."""
    if not asset.drills:
        return "never drilled"
    last = asset.drills[0]
    return (f"{last.drill}: {last.verdict} {last.started_at:%Y-%m-%d} (ledger entry "
            f"{last.ledger_entry}; {len(asset.drills)} run(s))")


def dependencies(assessment: Assessment) -> Iterator[tuple[str, str, str]]:
    """(asset, what it depends on, why) for every dependency the settings show."""
    for asset in assessment.assets:
        settings = asset.settings
        for target in settings.get("notification_targets", []):
            yield asset.id, target, "event notifications"
        for replica in settings.get("replication_destinations", []):
            yield asset.id, replica, "replication"
        key = settings.get("kms_key")
        if key:
            yield asset.id, f"kms:{key['key_id']}", "default encryption (SSE-KMS)"
        for service in settings.get("managed_services", []):
            yield asset.id, service, "managed service (instance tag)"


def blockers(assessment: Assessment) -> list[tuple[Asset, list]]:
    """Blocked assets with their blocking findings."""
    return [(asset, [f for f in asset.findings if f.verdict == "blocked"])
            for asset in assessment.assets if asset.verdict == "blocked"]


def render_terminal(assessment: Assessment) -> Group:
    """The summary ``exitkit assess`` prints: one row per asset, the blockers with their
    reasons, then the totals."""
    regime = assessment.totals.applicable_regime
    table = Table(title=f"Exit readiness: {assessment.totals.assets} assets "
                        f"(target {assessment.target_catalog})", title_justify="left")
    for column in ("asset", "verdict", "size", "exit time", f"cost ({regime})", "drills"):
        table.add_column(column, overflow="fold")
    for asset in assessment.assets:
        table.add_row(asset_label(asset), asset.verdict, size_text(asset.size),
                      time_text(asset.projection), applicable_cost(asset.projection, regime),
                      coverage_text(asset))
    totals = assessment.totals
    costs = ", ".join(f"{e.regime} {_BOUND_MARK[totals.cost_bound]}{euros(e.total_eur)} EUR"
                      for e in totals.costs)
    coverage = assessment.coverage
    lines = [f"blocked: {asset_label(asset)}: {found[0].code}: {found[0].detail}"
             for asset, found in blockers(assessment)]
    lines += [
        f"verdicts: {totals.verdicts['blocked']} blocked, {totals.verdicts['needs work']} "
        f"need work, {totals.verdicts['portable']} portable; {totals.never_drilled} never "
        f"drilled",
        f"projected exit: {duration_text(totals.duration_s)} on one host"
        + (f" ({totals.unsized} assets of unknown size not included)" if totals.unsized
           else "") + "; EU Data Act "
        f"transition ({totals.data_act_transition_days} days): "
        f"{'fits' if totals.fits_transition else 'does NOT fit'}, extended "
        f"({totals.data_act_extended_days} days): "
        f"{'fits' if totals.fits_extended else 'does NOT fit'}",
        f"cost per regime ({totals.cost_bound}; applies now: {totals.applicable_regime}): "
        f"{costs or '-'}",
        f"coverage: {sum(coverage.counted.values())} counted, {len(coverage.skipped)} "
        f"skipped, {len(coverage.inputs)} inputs by SHA-256 (see --json or the exit plan)",
    ]
    return Group(table, *(Text(line) for line in lines))


_environment = jinja2.Environment(loader=jinja2.PackageLoader("exitkit.assess"),
                                  undefined=jinja2.StrictUndefined, trim_blocks=True,
                                  lstrip_blocks=True,
                                  autoescape=jinja2.select_autoescape(["html.j2"]))
_environment.filters.update(bytes=human_bytes, euros=euros, duration=duration_text,
                            utc=utc_text, without_scheme=without_scheme,
                            cell=lambda text: str(text).replace("|", "\\|").replace("\n", " "))
_environment.globals.update(asset_label=asset_label, size_text=size_text,
                            applicable_cost=applicable_cost,
                            time_text=time_text, coverage_text=coverage_text,
                            bound_mark=_BOUND_MARK)


def render_plan(assessment: Assessment, fmt: str) -> str:
    """The exit plan as *fmt* (``html`` or ``md``)."""
    if fmt not in PLAN_FORMATS:
        raise ValueError(f"unknown plan format {fmt!r}: use one of {', '.join(PLAN_FORMATS)}")
    return _environment.get_template(f"exit_plan.{fmt}.j2").render(
        plan=assessment, totals=assessment.totals, regime=assessment.totals.applicable_regime,
        dependencies=list(dependencies(assessment)), blockers=blockers(assessment))
