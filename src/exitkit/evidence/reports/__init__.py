"""Reports derived from drill records: HTML, Markdown, JUnit XML and Prometheus metrics."""

from collections.abc import Sequence

from exitkit.evidence.record import DrillRecord
from exitkit.evidence.reports.html import render_html
from exitkit.evidence.reports.junit import render_junit
from exitkit.evidence.reports.markdown import render_markdown
from exitkit.evidence.reports.prometheus import render_prometheus

REPORT_FORMATS = ("html", "md", "junit", "prom")


def render_report(record: DrillRecord, history: Sequence[DrillRecord], fmt: str) -> str:
    """*record* rendered as *fmt* (one of :data:`REPORT_FORMATS`).

    *history* lists the runs of the same drill in chronological order, ending with
    *record*; when it does not end with *record*, *record* is appended.
    """
    runs = list(history)
    if not runs or runs[-1].run_id != record.run_id:
        runs.append(record)
    if fmt == "html":
        return render_html(record, runs)
    if fmt == "md":
        return render_markdown(record)
    if fmt == "junit":
        return render_junit(record)
    if fmt == "prom":
        return render_prometheus(record, runs)
    raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(REPORT_FORMATS)}")
