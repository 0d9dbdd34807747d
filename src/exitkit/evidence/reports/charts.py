"""The report's charts, each drawn from one part of a record (or from the run history)."""

from collections.abc import Sequence

from markupsafe import Markup

from exitkit.evidence.record import (VERIFICATION_CLASSES, CostEstimate, CostReport,
                                     DrillRecord, PhaseRecord, Projection, Verification)
from exitkit.drill.units import duration_text
from exitkit.evidence.reports.facts import SECONDS_PER_DAY, completeness_pct, drill_cost_eur
from exitkit.evidence.reports.svg import (Bar, Series, TrendPoint, bar_chart, line_chart,
                                          trend_chart)
from exitkit.evidence.summary import euros

THROUGHPUT_PHASES = ("copy", "verify")
MEGABYTE = 1_000_000


def throughput_chart(record: DrillRecord) -> Markup:
    """MB/s per sample interval of the copy and verify phases, over seconds since the start."""
    series = [Series(phase.name, steps) for phase in record.phases
              if phase.name in THROUGHPUT_PHASES and (steps := _throughput_steps(phase, record))]
    return line_chart(series, "Throughput over time", "seconds since the drill started",
                      "MB/s", "throughput")


def _throughput_steps(phase: PhaseRecord, record: DrillRecord) -> list[tuple[float, float]]:
    """One flat step per interval between samples, at the interval's average MB/s."""
    offset = (phase.started_at - record.started_at).total_seconds()
    steps: list[tuple[float, float]] = []
    previous_s, previous_bytes = 0.0, 0
    for seconds, _objects, done_bytes in phase.samples:
        interval = seconds - previous_s
        if interval > 0:
            rate = (done_bytes - previous_bytes) / interval / MEGABYTE
            steps += [(offset + previous_s, rate), (offset + seconds, rate)]
            previous_s, previous_bytes = seconds, done_bytes
    return steps


def completeness_chart(verification: Verification) -> Markup:
    """Objects per verification class, every class shown (zeros too)."""
    names = [*VERIFICATION_CLASSES,
             *(name for name in verification.counts if name not in VERIFICATION_CLASSES)]
    bars = [Bar(name, verification.counts.get(name, 0), str(verification.counts.get(name, 0)))
            for name in names]
    return bar_chart(bars, "Objects by verification class", "completeness")


def cost_charts(cost: CostReport) -> list[Markup]:
    """This drill's and the full exit's total per regime, the applicable regime marked."""
    return [_regime_bars(cost.drill, cost.applicable_regime, "This drill, EUR per regime"),
            _regime_bars(cost.full_exit, cost.applicable_regime, "Full exit, EUR per regime")]


def _regime_bars(estimates: Sequence[CostEstimate], applicable: str, title: str) -> Markup:
    bars = [Bar(estimate.regime + (" (applies)" if estimate.regime == applicable else ""),
                estimate.total_eur, f"{euros(estimate.total_eur)} EUR") for estimate in estimates]
    return bar_chart(bars, title, "cost")


def projection_chart(projection: Projection) -> Markup:
    """The projected full exit beside the EU Data Act's transition and extended windows."""
    windows = [(f"projected on {projection.hosts} host(s)", projection.duration_on_hosts_s),
               (f"transition ({projection.data_act_transition_days} days)",
                projection.data_act_transition_days * SECONDS_PER_DAY),
               (f"extended ({projection.data_act_extended_days} days)",
                projection.data_act_extended_days * SECONDS_PER_DAY)]
    bars = [Bar(label, seconds / SECONDS_PER_DAY, duration_text(seconds))
            for label, seconds in windows]
    return bar_chart(bars, "Projected full exit against the Data Act windows (days)",
                     "projection")


def trend_charts(history: Sequence[DrillRecord]) -> list[Markup]:
    """Duration, cost (applicable regime) and completeness over the runs in *history*."""
    def points(measure) -> list[TrendPoint]:
        return [TrendPoint(run.started_at.strftime("%Y-%m-%d %H:%M"), measure(run), run.verdict)
                for run in history]

    return [trend_chart(points(lambda run: run.duration_s), "Duration", "s", "trend duration"),
            trend_chart(points(drill_cost_eur), "Drill cost", "EUR", "trend cost"),
            trend_chart(points(completeness_pct), "Completeness", "%", "trend completeness")]
