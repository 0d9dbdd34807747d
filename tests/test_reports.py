"""Reports rendered from real drill records: HTML in Chromium, Markdown, JUnit, Prometheus."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exitkit.api import run_drill
from exitkit.drill.events import SilentObserver
from exitkit.embedded.seed import SeedObject, demo_objects, seed_bucket
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.reports import REPORT_FORMATS, render_report
from exitkit.evidence.reports.prometheus import label_value
from exitkit.providers.boto import s3_client
from tests.conftest import SEAWEED_TARGET, SPEC_TEMPLATE
from tests.helpers import minio_client

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
ODD_KEY = "odd/pipe|<b>&ü.txt"
CONSOLE_ERROR_MARKERS = ("CONSOLE", "Uncaught", "Failed to load")


@dataclass(frozen=True)
class Runs:
    """Real records: two passing runs of one drill, then a failing one; an errored drill."""

    passing: list[DrillRecord]
    failed: DrillRecord
    errored: DrillRecord

    @property
    def history(self) -> list[DrillRecord]:
        return [*self.passing, self.failed]


class TargetBucketRemover(SilentObserver):
    """Deletes the target bucket when verification starts, so the drill ends in an error."""

    def __init__(self, client, bucket):
        self.client, self.bucket = client, bucket

    def phase_started(self, phase, total_objects, total_bytes):
        if phase == "verify":
            for item in self.client.list_objects(self.bucket, recursive=True):
                self.client.remove_object(self.bucket, item.object_name)
            self.client.remove_bucket(self.bucket)


def spec_text(name: str, source_bucket: str, target_bucket: str) -> str:
    """A drill with cost, projection and a cost ceiling besides the default expectations."""
    return SPEC_TEMPLATE.format(
        name=name, source_bucket=source_bucket, source_prefix="",
        target=SEAWEED_TARGET.format(bucket=target_bucket, prefix=""),
        extra="cost:\n  keep_days: 3\nprojection:\n  hosts: 2\n",
    ).replace("  max_duration: 10m\n", "  max_duration: 10m\n  max_cost: 100 EUR\n")


@pytest.fixture(scope="module")
def runs(moto, seaweed, tmp_path_factory) -> Runs:
    directory = tmp_path_factory.mktemp("reports")
    environ = {**os.environ, "SRC_ENDPOINT": moto.endpoint, "SRC_KEY": moto.access_key,
               "SRC_SECRET": moto.secret_key, "TGT_ENDPOINT": seaweed.endpoint,
               "TGT_KEY": seaweed.access_key, "TGT_SECRET": seaweed.secret_key}
    source_bucket = f"t{os.getpid()}-reports-src"
    objects = [obj for obj in demo_objects(50) if not obj.multipart]
    seed_bucket(s3_client(moto.endpoint, moto.access_key, moto.secret_key), source_bucket,
                [*objects, SeedObject(ODD_KEY, b"odd\n", "text/plain")])
    spec = directory / "reported.yaml"
    spec.write_text(spec_text("reported", source_bucket, f"t{os.getpid()}-reports-tgt"))
    passing = [run_drill(spec, directory / "results", environ=environ).record for _ in range(2)]
    target = minio_client(seaweed)
    target.remove_object(f"t{os.getpid()}-reports-tgt", ODD_KEY)
    failed = run_drill(spec, directory / "results", environ=environ, verify_only=True).record
    errored_spec = directory / "errored.yaml"
    errored_target = f"t{os.getpid()}-reports-gone"
    errored_spec.write_text(spec_text("errored", source_bucket, errored_target))
    errored = run_drill(errored_spec, directory / "results", environ=environ,
                        observer=TargetBucketRemover(target, errored_target)).record
    assert [run.verdict for run in passing] == ["passed", "passed"], [r.errors for r in passing]
    assert (failed.verdict, errored.verdict) == ("failed", "error"), errored.errors
    return Runs(passing, failed, errored)


# HTML

def chromium_screenshot(page: Path, screenshot: Path) -> str:
    """Render *page* in headless Chromium into *screenshot*; return Chromium's stderr."""
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):  # CI set and non-empty: missing infrastructure fails
            pytest.fail("chromium is not installed (scripts/setup-tests installs it)")
        pytest.skip("chromium is not installed; run scripts/setup-tests")
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={screenshot}",
         "--window-size=1280,4000", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={page.parent / 'chromium-profile'}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if any(marker in line for marker in CONSOLE_ERROR_MARKERS)]


def test_html_report_renders_in_chromium_without_console_errors(runs, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_report(runs.failed, runs.history, "html"), encoding="utf-8")
    screenshot = tmp_path / "report.png"
    stderr = chromium_screenshot(page, screenshot)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000  # a blank 1280x4000 page compresses to ~10 kB
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / "report.png")
    shutil.copyfile(page, ARTIFACTS / "report.html")
    assert console_errors(stderr) == []


def test_console_error_detector_catches_a_broken_script(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>broken</p>"
                    "<script>this is not javascript(</script></body></html>")
    errors = console_errors(chromium_screenshot(page, tmp_path / "broken.png"))
    assert any("Uncaught SyntaxError" in line for line in errors), errors


def test_html_is_self_contained_ordered_and_escaped(runs):
    html = render_report(runs.failed, runs.history, "html")
    references = re.findall(r"https?://[^\s\"'<>]*", html)
    assert set(references) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in html.lower()
    assert html.index(">FAILED<") < html.index('class="phases"')
    assert html.count('class="chart throughput"') == 1
    history = html[html.index('id="history"'):html.index('id="errors"')]
    assert history.count('<tr class="run">') == 3
    duration_trend = re.search(r'<svg[^>]*class="chart trend duration".*?</svg>', history, re.S)
    assert duration_trend.group(0).count('<circle') == 3
    assert "odd/pipe|&lt;b&gt;&amp;ü.txt" in html and "pipe|<b>" not in html
    assert html.index('id="expectations"') < html.index('id="phases"') < html.index(
        'id="throughput"') < html.index('id="cost"') < html.index('id="completeness"') < html.index(
        'id="projection"') < html.index('id="history"') < html.index('id="errors"')


def test_html_shows_cost_projection_and_errors_from_the_record(runs):
    passed = render_report(runs.passing[-1], runs.passing, "html")
    cost = runs.passing[-1].cost
    assert f"the regime <span class=\"applies\">{cost.applicable_regime}</span> applies" in passed
    assert passed.count('class="chart cost"') == 2 and 'class="chart projection"' in passed
    assert ">PASSED<" in passed and "verdict-passed" in passed
    errored = render_report(runs.errored, [runs.errored], "html")
    assert "verdict-error" in errored and "Not verified" in errored
    errors = errored[errored.index('id="errors"'):]
    assert all(error in errors for error in runs.errored.errors) and runs.errored.errors


# JUnit

def junit_cases(record: DrillRecord) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.fromstring(render_report(record, [record], "junit").encode())
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    assert len({case.get("name") for case in cases}) == len(cases)
    return suites[0], {case.get("name"): case for case in cases}


def test_junit_has_one_case_per_expectation_failures_as_failed(runs):
    record = runs.failed
    suite, cases = junit_cases(record)
    assert suite.get("name") == "exitkit.reported"
    assert list(cases) == [result.name for result in record.expectations]
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {result.name for result in record.expectations if not result.passed} != set()
    completeness = next(r for r in record.expectations if r.name == "completeness")
    assert cases["completeness"].find("failure").get("message") == (
        f"expected {completeness.expected}, measured {completeness.measured}")
    assert {case.get("classname") for case in cases.values()} == {"exitkit.reported"}
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        str(len(cases)), str(len(failed)), "0")
    assert suite.get("timestamp") == record.started_at.isoformat()


def test_junit_passing_run_has_no_failures_and_error_run_an_error_case(runs):
    suite, cases = junit_cases(runs.passing[0])
    assert suite.get("failures") == suite.get("errors") == "0"
    assert all(list(case) == [] for case in cases.values())
    suite, cases = junit_cases(runs.errored)
    error = cases["drill"].find("error")
    assert error is not None and runs.errored.errors[0] in error.text
    assert suite.get("errors") == "1"
    assert suite.get("tests") == str(len(runs.errored.expectations) + 1)


# Prometheus

def metrics(record: DrillRecord, history: list[DrillRecord]) -> dict[tuple, float]:
    text = render_report(record, history, "prom")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_prometheus_values_are_the_records(runs):
    record = runs.passing[-1]
    values = metrics(record, runs.passing)
    drill = (("drill", "reported"),)
    assert values[("exitkit_drill_passed", drill)] == 1
    assert values[("exitkit_drill_verdict", (("drill", "reported"), ("verdict", "passed")))] == 1
    assert values[("exitkit_drill_verdict", (("drill", "reported"), ("verdict", "failed")))] == 0
    assert values[("exitkit_drill_duration_seconds", drill)] == pytest.approx(record.duration_s)
    assert values[("exitkit_drill_bytes_copied", drill)] == record.copy_summary.bytes_copied > 0
    assert values[("exitkit_drill_objects_copied", drill)] == record.copy_summary.objects_copied
    assert values[("exitkit_drill_completeness_ratio", drill)] == 1
    for estimate in record.cost.drill:
        labels = (("drill", "reported"), ("regime", estimate.regime))
        assert values[("exitkit_drill_cost_eur", labels)] == pytest.approx(estimate.total_eur)
    assert values[("exitkit_drill_projected_exit_duration_seconds", drill)] == pytest.approx(
        record.projection.duration_on_hosts_s)
    assert values[("exitkit_drill_projected_workers_for_transition", drill)] == (
        record.projection.workers_for_transition) >= 1
    assert values[("exitkit_drill_last_success_timestamp_seconds", drill)] == (
        record.ended_at.timestamp())


def test_prometheus_last_success_comes_from_history(runs):
    drill = (("drill", "reported"),)
    values = metrics(runs.failed, runs.history)
    assert values[("exitkit_drill_passed", drill)] == 0
    assert values[("exitkit_drill_last_success_timestamp_seconds", drill)] == (
        runs.passing[-1].ended_at.timestamp())
    assert values[("exitkit_drill_last_run_timestamp_seconds", drill)] == (
        runs.failed.ended_at.timestamp())
    ratio = values[("exitkit_drill_completeness_ratio", drill)]
    assert ratio == pytest.approx(runs.failed.verification.completeness_objects_pct / 100)
    assert ratio < 1
    errored = metrics(runs.errored, [runs.errored])
    assert errored[("exitkit_drill_last_success_timestamp_seconds", (("drill", "errored"),))] == 0


def test_prometheus_label_values_survive_the_parser():
    nasty = 'a "quoted" back\\slash\nnew line ü'
    text = f'# TYPE m gauge\nm{{drill="{label_value(nasty)}"}} 1\n'
    [family] = text_string_to_metric_families(text)
    assert family.samples[0].labels == {"drill": nasty}


# Markdown

def unescaped_cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_markdown_has_verdict_expectations_and_escaped_keys(runs):
    record = runs.failed
    markdown = render_report(record, runs.history, "md")
    assert "**FAILED** (exit code 1)" in markdown.splitlines()[0]
    for result in record.expectations:
        escaped = result.name.replace("_", "\\_")
        assert any(unescaped_cells(line)[:1] == [f" {escaped} "] for line in markdown.splitlines()
                   if line.startswith("|")), result.name
    [difference_row] = [line for line in markdown.splitlines() if "pipe" in line]
    assert unescaped_cells(difference_row) == [" odd/pipe\\|\\<b>\\&ü.txt ", " missing ",
                                               " not on the target "]
    for table_row in (line for line in markdown.splitlines() if line.startswith("|")):
        assert len(unescaped_cells(table_row)) in (2, 3, 4, 6), table_row


def test_unknown_format_is_refused_and_history_gets_the_record(runs):
    assert REPORT_FORMATS == ("html", "md", "junit", "prom")
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render_report(runs.failed, runs.history, "pdf")
    assert render_report(runs.failed, runs.passing, "prom") == render_report(
        runs.failed, runs.history, "prom")
