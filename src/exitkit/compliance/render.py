"""A framework report in Markdown (tickets), JSON (tools), HTML (one self-contained page)
and JUnit XML (one test case per requirement: failed, or skipped when not covered)."""

import json
from html import escape
from xml.etree import ElementTree

from exitkit.compliance.evaluate import EvidenceFinding, FrameworkReport, RequirementFinding

FRAMEWORK_FORMATS = ("md", "json", "html", "junit")
STATUS_TEXT = {"passed": "evidenced, passed", "failed": "evidenced, FAILED",
               "not_covered": "not covered"}


def render_framework(report: FrameworkReport, fmt: str) -> str:
    """*report* as *fmt* (one of :data:`FRAMEWORK_FORMATS`)."""
    renderers = {"md": _markdown, "json": _json, "html": _html, "junit": _junit}
    if fmt not in renderers:
        raise ValueError(f"a framework report is one of {', '.join(FRAMEWORK_FORMATS)}")
    return renderers[fmt](report)


def _counts(report: FrameworkReport) -> str:
    return (f"{report.count('passed')} evidenced and passed, {report.count('failed')} failed, "
            f"{report.count('not_covered')} not covered")


def _evidence_line(finding: EvidenceFinding) -> str:
    what = finding.evidence.path or f"expectation {finding.evidence.expectation}"
    optional = " (optional)" if finding.evidence.optional else ""
    if finding.outcome == "absent":
        return f"{what}{optional}: not in the record ({finding.evidence.shows})"
    if finding.outcome == "not_applicable":
        return (f"{what} {finding.evidence.describe_check()}: found {finding.found} at "
                f"{', '.join(finding.locations)}, so this run does not evidence the "
                f"requirement ({finding.evidence.shows})")
    return (f"{what} {finding.evidence.describe_check()}{optional}: {finding.outcome}, found "
            f"{finding.found} at {', '.join(finding.locations)} ({finding.evidence.shows})")


def _markdown(report: FrameworkReport) -> str:
    framework = report.framework
    lines = [f"# {framework.title}", "",
             f"Drill **{report.drill}**, run `{report.run_id}` (verdict {report.verdict}), "
             f"from `{report.source}`.", "", f"Source text: {framework.source}. "
             f"{framework.note}".rstrip(), "", f"**{_counts(report)}.**", "",
             "| status | requirement | reference | title |", "|---|---|---|---|"]
    for finding in report.requirements:
        requirement = finding.requirement
        lines.append(f"| {STATUS_TEXT[finding.status]} | {requirement.id} | "
                     f"{requirement.reference} | {_cell(requirement.title)} |")
    for finding in report.requirements:
        lines += ["", *_markdown_requirement(finding)]
    return "\n".join(lines) + "\n"


def _markdown_requirement(finding: RequirementFinding) -> list[str]:
    requirement = finding.requirement
    lines = [f"## {requirement.id}: {requirement.title} ({STATUS_TEXT[finding.status]})", "",
             f"{requirement.reference}. {requirement.summary}", ""]
    lines += [f"- {_evidence_line(item)}" for item in finding.evidence]
    if requirement.not_coverable:
        lines.append(f"- Not coverable by a drill: {requirement.not_coverable}")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _json(report: FrameworkReport) -> str:
    return json.dumps({
        "framework": report.framework.framework, "title": report.framework.title,
        "drill": report.drill, "run_id": report.run_id, "verdict": report.verdict,
        "source": report.source,
        "counts": {status: report.count(status)
                   for status in ("passed", "failed", "not_covered")},
        "requirements": [{
            "id": finding.requirement.id, "reference": finding.requirement.reference,
            "title": finding.requirement.title, "status": finding.status,
            "not_coverable": finding.requirement.not_coverable,
            "evidence": [{"path": item.evidence.path, "expectation": item.evidence.expectation,
                          "check": item.evidence.describe_check(), "outcome": item.outcome,
                          "optional": item.evidence.optional,
                          "precondition": item.evidence.precondition, "found": item.found,
                          "locations": list(item.locations), "shows": item.evidence.shows}
                         for item in finding.evidence]}
            for finding in report.requirements]}, indent=2, ensure_ascii=False) + "\n"


def _html(report: FrameworkReport) -> str:
    rows = []
    for finding in report.requirements:
        requirement = finding.requirement
        details = [escape(_evidence_line(item)) for item in finding.evidence]
        if requirement.not_coverable:
            details.append("Not coverable by a drill: " + escape(requirement.not_coverable))
        rows.append(f'<tr class="{finding.status}"><td>{STATUS_TEXT[finding.status]}</td>'
                    f"<td>{escape(requirement.id)}</td><td>{escape(requirement.reference)}</td>"
                    f"<td><b>{escape(requirement.title)}</b><br>{escape(requirement.summary)}"
                    f"<ul>{''.join(f'<li>{item}</li>' for item in details)}</ul></td></tr>")
    title = escape(report.framework.title)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.4em;vertical-align:top}"
            ".passed td:first-child{background:#dfd}.failed td:first-child{background:#fdd}"
            ".not_covered td:first-child{background:#eee}</style></head><body>"
            f"<h1>{title}</h1><p>Drill <b>{escape(report.drill)}</b>, run "
            f"<code>{escape(report.run_id)}</code> (verdict {escape(report.verdict)}), from "
            f"<code>{escape(report.source)}</code>. {escape(report.framework.note)}</p>"
            f"<p><b>{escape(_counts(report))}.</b></p><table><tr><th>status</th>"
            f"<th>requirement</th><th>reference</th><th>what and evidence</th></tr>"
            f"{''.join(rows)}</table></body></html>\n")


def _junit(report: FrameworkReport) -> str:
    suite = ElementTree.Element("testsuite", {
        "name": f"exitkit {report.framework.framework} {report.drill}",
        "tests": str(len(report.requirements)), "failures": str(report.count("failed")),
        "skipped": str(report.count("not_covered"))})
    for finding in report.requirements:
        case = ElementTree.SubElement(suite, "testcase", {
            "classname": f"{report.framework.framework}.{report.drill}",
            "name": f"{finding.requirement.id} {finding.requirement.title}"})
        text = "\n".join(_evidence_line(item) for item in finding.evidence)
        if finding.status == "failed":
            ElementTree.SubElement(case, "failure", {"message": "evidence does not hold"}
                                   ).text = text
        elif finding.status == "not_covered":
            ElementTree.SubElement(case, "skipped", {
                "message": finding.requirement.not_coverable or "not in the record"}).text = text
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
