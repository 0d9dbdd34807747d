"""The ``exitkit`` command: a thin shell over :mod:`exitkit.api`.

Exit codes: 0 every expectation held; 1 the drill ran but an expectation failed;
2 usage, spec, configuration or connection error (one line on stderr, no traceback).
"""

import dataclasses
import json
import os
import signal
import sys
from collections.abc import Callable
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from exitkit import __version__
from exitkit.api import DrillResult, restore_progress, run_drill
from exitkit.errors import ExitkitError
from exitkit.drill.events import DrillObserver
from exitkit.progress import NotesOnly, ProgressBars
from exitkit.redaction import scrub

if TYPE_CHECKING:  # signing (cryptography) is imported when a key is loaded
    from exitkit.evidence.signing import Signer

app = typer.Typer(help="Scripted, measured cloud exit drills.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
drill_app = typer.Typer(help="Run drills.", no_args_is_help=True)
app.add_typer(drill_app, name="drill")

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

SpecArg = Annotated[Path, typer.Argument(help="Drill spec (YAML).", show_default=False)]
ResultsOpt = Annotated[Path, typer.Option("--results", "-r", help="Directory for records.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the record as JSON on stdout.")]
LedgerOpt = Annotated[Path | None, typer.Option(
    "--ledger", envvar="EXITKIT_LEDGER", show_default=False,
    help="Append the signed record to this JSON Lines ledger.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Dask scheduler address (tcp://host:8786): workers copy and verify "
                        "the plan shard by shard (see docs/distributed.md).")]
SigningKeyOpt = Annotated[Path | None, typer.Option(
    "--signing-key", envvar="EXITKIT_SIGNING_KEY_FILE", show_default=False,
    help="Ed25519 private key (PEM) that signs ledger entries; or set EXITKIT_SIGNING_KEY.")]
TsaOpt = Annotated[str | None, typer.Option(
    "--tsa", envvar="EXITKIT_TSA_URL", show_default=False,
    help="RFC 3161 TSA (http(s) URL) that stamps the ledger entry; overrides the spec's "
         "evidence.timestamps.")]


Outcome = TypeVar("Outcome")


def _fail(message: str, code: int = 2) -> None:
    stderr.print(f"exitkit: error: {scrub(message)}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def _signer(path: Path | None) -> "Signer | None":
    """The signing key from the option or environment; errors end as one line."""
    from exitkit.evidence.signing import load_signer

    try:
        return load_signer(path)
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)


def _check_tsa(url: str | None) -> None:
    """A TSA must be an http(s) URL."""
    if url is not None and not url.startswith(("http://", "https://")):
        _fail(f"--tsa: {url!r} is not an http(s) URL")


def _guarded(action: Callable[[DrillObserver | None], Outcome], quiet: bool,
             as_json: bool) -> Outcome:
    """Run *action* with progress bars on a terminal (elsewhere only notes such as
    teardowns, on stderr); turn errors into one line, exit 2."""
    bars = ProgressBars(stderr) if stderr.is_terminal and not quiet and not as_json else None
    observer = bars or (None if quiet else NotesOnly(stderr))
    if os.environ.get("EXITKIT_DEBUG"):
        with bars or nullcontext():
            return action(observer)
    try:
        with bars or nullcontext():
            return action(observer)
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; 'exitkit drill run --resume' continues where this run stopped",
              130)
    except Exception as exc:  # a bug: still one scrubbed line; EXITKIT_DEBUG=1 shows the trace
        _fail(f"internal error: {type(exc).__name__}: {exc} (set EXITKIT_DEBUG=1 for details)")
    raise AssertionError("unreachable")


def _report(result: DrillResult, quiet: bool, as_json: bool, finish: bool = True,
            exit_code: int | None = None) -> None:
    """Print the summary (or the JSON record); with *finish*, exit with *exit_code*
    (default: the record's)."""
    record = result.record
    if as_json:
        sys.stdout.write(record.to_json() + "\n")
    elif not quiet:
        from exitkit.evidence.summary import render_summary

        stdout.print(render_summary(record))
        stdout.print(f"record: {result.path}", markup=False, soft_wrap=True)
        if result.ledger_entry:
            stamped = result.ledger_entry.timestamped_at
            stdout.print(f"ledger: entry {result.ledger_entry.number}, sha256 "
                         f"{result.ledger_entry.sha256}"
                         + (f", timestamped {stamped}" if stamped else ""),
                         markup=False, soft_wrap=True)
    if result.ledger_entry and result.ledger_entry.timestamp_error:
        stderr.print(f"exitkit: warning: ledger entry {result.ledger_entry.number} is not "
                     f"timestamped: {result.ledger_entry.timestamp_error}; the record and the "
                     f"entry are kept", markup=False, soft_wrap=True)
    if record.verdict == "failed":
        failed = ", ".join(e.name for e in record.expectations if not e.passed)
        stderr.print(f"exitkit: expectation failed: {failed}", markup=False, soft_wrap=True)
    elif record.verdict == "error":
        stderr.print(f"exitkit: error: {'; '.join(record.errors)}", markup=False, soft_wrap=True)
    if finish:
        raise typer.Exit(record.exit_code if exit_code is None else exit_code)


@drill_app.command("run")
def drill_run(spec: SpecArg, results: ResultsOpt = Path("results"), quiet: QuietOpt = False,
              as_json: JsonOpt = False, ledger: LedgerOpt = None,
              signing_key: SigningKeyOpt = None, tsa: TsaOpt = None,
              resume: Annotated[bool, typer.Option(
                  "--resume", help="Continue an interrupted run of this drill: copy only "
                                   "what is not already in place.")] = False,
              scheduler: SchedulerOpt = None) -> None:
    """Run a drill: inventory, copy, verify, measure, and write the record.

    Ctrl-C and SIGTERM stop it (exit 130) leaving a checkpoint journal for --resume.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signer = _signer(signing_key) if ledger else None
    _check_tsa(tsa)
    result = _guarded(lambda bars: run_drill(spec, results, observer=bars, ledger=ledger,
                                             signer=signer, resume=resume,
                                             scheduler=scheduler, tsa_url=tsa),
                      quiet, as_json)
    _report(result, quiet, as_json)


@drill_app.command("status")
def drill_status(spec: SpecArg, results: ResultsOpt = Path("results"),
                 as_json: Annotated[bool, typer.Option(
                     "--json", help="Print the counts and each restore as JSON.")] = False
                 ) -> None:
    """Show how many restores of an unfinished drill are pending, ready and copied.

    Reads the drill's journal in the results directory and sends the source one HEAD
    per restore not yet copied.
    """
    progress = _guarded(lambda _bars: restore_progress(spec, results), True, as_json)
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(progress), indent=2) + "\n")
        return
    stdout.print(f"drill {progress.drill} (run {progress.run_id}): {progress.requested} "
                 f"restores requested: {progress.pending} pending, {progress.ready} ready, "
                 f"{progress.copied} copied", markup=False, soft_wrap=True)


@app.command("verify")
def verify(spec: SpecArg, results: ResultsOpt = Path("results"), quiet: QuietOpt = False,
           as_json: JsonOpt = False, ledger: LedgerOpt = None,
           signing_key: SigningKeyOpt = None, scheduler: SchedulerOpt = None,
           tsa: TsaOpt = None) -> None:
    """Re-check a target against its source without copying, and write a record."""
    signer = _signer(signing_key) if ledger else None
    _check_tsa(tsa)
    result = _guarded(lambda bars: run_drill(spec, results, observer=bars, verify_only=True,
                                             ledger=ledger, signer=signer,
                                             scheduler=scheduler, tsa_url=tsa),
                      quiet, as_json)
    _report(result, quiet, as_json)


@app.command("scan")
def scan(spec: SpecArg, as_json: Annotated[bool, typer.Option(
        "--json", help="Print the scan report as JSON on stdout.")] = False) -> None:
    """Count on the source what matters to an exit and show what the target would lose.

    Copies nothing. Exit 0 when the target holds everything (or the spec accepts each
    loss), 1 when the exit would lose a property the spec does not accept.
    """
    from exitkit.api import scan_source
    from exitkit.evidence.scan_table import render_scan

    report, accepted = _guarded(lambda _bars: scan_source(spec), True, as_json)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        stdout.print(render_scan(report, accepted))
    unaccepted = [row.property for row in report.losses
                  if row.objects_lost and row.property not in accepted]
    if unaccepted:
        stderr.print(f"exitkit: this exit would lose: {', '.join(unaccepted)}", markup=False,
                     soft_wrap=True)
    raise typer.Exit(1 if unaccepted else 0)


@app.command("probe")
def probe(spec: SpecArg, output: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Save the measured table here (default: "
                            "results/probe-<drill>.json); name it in the spec as "
                            "target.capabilities_file to drill with it.")] = None,
          as_json: JsonOpt = False) -> None:
    """Measure what the target holds: write test objects under a scratch prefix, read them
    back, delete them (proven by listing), and compare with the provider profile."""
    from exitkit.api import probe_target
    from exitkit.evidence.scan_table import render_probe

    path = output or Path("results") / f"probe-{spec.stem}.json"
    report = _guarded(lambda _bars: probe_target(spec, path), True, as_json)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        stdout.print(render_probe(report))
        stdout.print(f"saved: {path}", markup=False, soft_wrap=True)
    if report.remaining_after_cleanup:
        _fail(f"{report.remaining_after_cleanup} probe objects are still listed under "
              f"{report.prefix}; delete them by hand", 1)


class DemoSource(str, Enum):
    """The cloud ``exitkit demo`` leaves."""

    aws = "aws"
    azure = "azure"


@app.command("demo")
def demo(results: ResultsOpt = Path("results"), quiet: QuietOpt = False, as_json: JsonOpt = False,
         objects: Annotated[int, typer.Option(min=1, help="About how many objects to seed.")] = 2000,
         with_workload: Annotated[bool, typer.Option(
             "--with-workload", help="Also move a web workload (image, data) to a self-hosted "
                                     "registry and Podman, and prove it serves the data.")] = False,
         with_assess: Annotated[bool, typer.Option(
             "--assess", help="Instead: seed a varied estate (buckets, VMs, images, managed "
                              "services) on moto_server, assess it, write the exit plan.")]
         = False,
         source: Annotated[DemoSource, typer.Option(
             "--source", help="The cloud to leave: aws (moto_server) or azure (Azurite).")
         ] = DemoSource.aws,
         with_tsa: Annotated[bool, typer.Option(
             "--with-tsa", help="Stamp the ledger entries by a local RFC 3161 TSA (OpenSSL, "
                                "test CA under RESULTS/demo-tsa).")] = False,
         with_vm: Annotated[bool, typer.Option(
             "--with-vm", help="Also rebuild the site's web server VM on a private libvirt/QEMU "
                               "hypervisor, prove it serves the data, and remove it.")] = False,
         ) -> None:
    """Run the demo drill on embedded loopback servers (moto_server or Azurite -> SeaweedFS)."""
    from exitkit.embedded.demo import run_demo

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    say = (lambda _message: None) if quiet or as_json else (
        lambda message: stderr.print(message, markup=False))
    if with_assess:
        _assess_demo(results, quiet, as_json, say)
    if source is DemoSource.azure:
        if with_workload or with_tsa or with_vm:
            _fail("--with-workload, --with-vm and --with-tsa run with --source aws only", 2)
        from exitkit.embedded.azure_demo import run_azure_demo

        done = _guarded(lambda bars: run_azure_demo(results, objects, observer=bars, say=say),
                        quiet, as_json)
    else:
        done = _guarded(lambda bars: run_demo(results, objects, observer=bars, say=say,
                                              with_workload=with_workload, with_vm=with_vm,
                                              with_tsa=with_tsa), quiet, as_json)
    worst = max(result.exit_code for result in done)
    if as_json and len(done) > 1:  # one JSON document: the records in the order they ran
        sys.stdout.write("[" + ",\n".join(result.record.to_json() for result in done) + "]\n")
        raise typer.Exit(worst)
    for result in done[:-1]:
        _report(result, quiet, as_json, finish=False)
    _report(done[-1], quiet, as_json, exit_code=worst)


def _assess_demo(results: Path, quiet: bool, as_json: bool, say: Callable[[str], None]) -> None:
    """``demo --assess``: exit 0 once the plan is written (its blockers are the point)."""
    from exitkit.assess.plan import render_terminal
    from exitkit.embedded.assess_demo import run_assess_demo

    result = _guarded(lambda bars: run_assess_demo(results, observer=bars, say=say), quiet,
                      as_json)
    if as_json:
        sys.stdout.write(result.assessment.model_dump_json(indent=2) + "\n")
    elif not quiet:
        stdout.print(render_terminal(result.assessment))
    raise typer.Exit(0)


@app.command("version")
def version() -> None:
    """Print exitkit's version."""
    stdout.print(__version__)


manifest_app = typer.Typer(help="Work with the manifest of verified objects.",
                           no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")


@manifest_app.command("prove")
def manifest_prove(
    record_path: Annotated[Path, typer.Argument(metavar="RECORD", help="A drill record.")],
    key: Annotated[str, typer.Argument(help="Object key as written in the manifest.")],
    version_id: Annotated[str | None, typer.Option(help="Version id, for versioned drills.")]
    = None,
) -> None:
    """Print the Merkle inclusion proof of KEY and check it against the record's root.

    Exit 0 when the proof holds, 1 when it does not (the manifest was altered), 2 when the
    key is not in the manifest or the files cannot be read.
    """
    from exitkit.evidence.manifest import prove
    from exitkit.evidence.store import read_record

    try:
        record = read_record(record_path)
    except (OSError, ValueError) as exc:
        _fail(f"{record_path}: cannot read the record ({type(exc).__name__})")
    manifest = record.verification.manifest if record.verification else None
    if manifest is None:
        _fail(f"{record_path}: the record has no manifest")
    try:
        proof = prove(record_path.parent / manifest.file, manifest.merkle_root, key, version_id)
    except (OSError, ValueError) as exc:
        _fail(f"{record_path.parent / manifest.file}: cannot read the manifest ({exc})")
    if proof is None:
        _fail(f"{key!r} is not in the manifest of {record_path}")
    sys.stdout.write(json.dumps(dataclasses.asdict(proof), indent=2, ensure_ascii=False) + "\n")
    if not proof.verified:
        stderr.print(f"exitkit: proof failed: {key!r} does not hash to the record's root "
                     f"{manifest.merkle_root}", markup=False, soft_wrap=True)
    raise typer.Exit(0 if proof.verified else 1)


providers_app = typer.Typer(help="The provider catalog: prices with their sources.",
                            no_args_is_help=True)
app.add_typer(providers_app, name="providers")
CatalogOpt = Annotated[list[Path] | None, typer.Option(
    "--catalog", help="Extra catalog directory; its files override packaged ones by name.")]


def _catalog(dirs: list[Path] | None):
    from exitkit.catalog.load import load_catalog

    try:
        return load_catalog(dirs or [])
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)


@providers_app.command("list")
def providers_list(catalog: CatalogOpt = None) -> None:
    """List catalog entries with jurisdiction, storage and first egress price."""
    from rich.table import Table

    loaded = _catalog(catalog)
    table = Table()
    for column in ("name", "seat", "data", "storage/GB-mo", "egress/GB", "exit waiver"):
        table.add_column(column, overflow="fold")
    for name, entry in sorted(loaded.entries.items()):
        prices = entry.prices
        egress = max(tier.price for tier in prices.egress_gb.tiers)
        waiver = entry.exit_waiver and entry.exit_waiver.free_egress
        table.add_row(name, entry.jurisdiction, entry.data_location,
                      f"{prices.storage_gb_month.price:g} {entry.currency}",
                      f"<= {egress:g} {entry.currency}", "yes" if waiver else "-")
    stdout.print(table)


@providers_app.command("show")
def providers_show(name: Annotated[str, typer.Argument(help="Catalog entry name.")],
                   catalog: CatalogOpt = None) -> None:
    """Print one catalog entry (as YAML-like JSON) with the file it came from."""
    loaded = _catalog(catalog)
    try:
        entry = loaded.get(name)
    except ExitkitError as exc:
        _fail(str(exc))
    shown = {"file": loaded.origins[name], **entry.model_dump(mode="json", exclude_none=True)}
    sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")


keys_app = typer.Typer(help="Ed25519 keys that sign the ledger.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate(prefix: Annotated[Path, typer.Option(
        "--out", help="Writes OUT.key (private, mode 0600) and OUT.pub.")] = Path("exitkit-ledger"),
) -> None:
    """Create a signing key pair; give the .pub file to your auditors."""
    from exitkit.evidence.signing import generate_key_pair

    try:
        private, public, key_id = generate_key_pair(prefix)
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)
    stdout.print(f"private key: {private} (keep it secret; sign with --signing-key or "
                 f"EXITKIT_SIGNING_KEY_FILE)\npublic key:  {public}\nkey id:      {key_id}",
                 markup=False, soft_wrap=True)


audit_app = typer.Typer(help="Check drill evidence.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    ledger: Annotated[Path, typer.Argument(metavar="LEDGER", help="A drill ledger.")],
    pubkey: Annotated[Path, typer.Option("--pubkey", help="The signer's public key (PEM).")],
    records: Annotated[Path | None, typer.Option(
        "--records", help="Directory holding the records and manifests (default: as "
                          "written in the ledger, relative to it).")] = None,
    expect_head: Annotated[str | None, typer.Option(
        "--expect-head", help="A head hash printed by an earlier check: proves no entry "
                              "up to it was removed.")] = None,
    tsa_ca: Annotated[list[Path] | None, typer.Option(
        "--tsa-ca", envvar="EXITKIT_TSA_CA_FILE", show_default=False,
        help="Trust anchor (PEM) of the TSA's certificate chain: check every timestamp "
             "token. Repeat for several.")] = None,
    require_timestamps: Annotated[bool, typer.Option(
        "--require-timestamps", help="Fail on an entry without a timestamp token.")] = False,
    tolerance: Annotated[float, typer.Option(
        "--timestamp-tolerance", min=0, help="Seconds an entry's appended_at may lie from "
                                             "its TSA's time.")] = 300.0,
) -> None:
    """Check the hash chain, every signature, record file and manifest root, and with
    --tsa-ca every RFC 3161 timestamp token.

    Exit 0 when the whole ledger holds; 1 naming the first entry that fails and why;
    2 when the ledger, key or trust anchor cannot be read.
    """
    from datetime import timedelta

    from exitkit.evidence.audit import audit_ledger
    from exitkit.evidence.signing import load_public_key
    from exitkit.evidence.timestamps import load_trust_anchors

    try:
        anchors = load_trust_anchors(tsa_ca) if tsa_ca else None
        result = audit_ledger(ledger, load_public_key(pubkey), records, expect_head,
                              tsa_anchors=anchors, require_timestamps=require_timestamps,
                              tolerance=timedelta(seconds=tolerance))
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)
    if result.failure:
        stderr.print(f"exitkit: audit failed: {ledger}:{result.failure.line}: "
                     f"{result.failure.reason} ({result.entries} entries before it hold)",
                     markup=False, soft_wrap=True)
        raise typer.Exit(1)
    entries = f"{result.entries} {'entry' if result.entries == 1 else 'entries'}"
    stamps = (f"; {result.timestamps_verified} timestamp tokens verified" if anchors is not None
              else "; timestamp tokens not checked (no --tsa-ca)")
    if result.untimestamped:
        stamps += f"; untimestamped lines: {', '.join(map(str, result.untimestamped))}"
    stdout.print(f"ledger holds: {entries}; chain, signatures, records and manifests "
                 f"checked{stamps}; head sha256 {result.head_sha256}",
                 markup=False, soft_wrap=True)


@app.command("history")
def history(
    ledger: Annotated[Path, typer.Option("--ledger", envvar="EXITKIT_LEDGER",
                                         help="The drill ledger.")] = Path("results/ledger.jsonl"),
    drill: Annotated[str | None, typer.Option("--drill", help="Only this drill.")] = None,
    as_json: JsonOpt = False,
    contract: Annotated[str | None, typer.Option(
        "--contract", help="Only runs whose scope names this contract reference.")] = None,
    function: Annotated[str | None, typer.Option(
        "--function", help="Only runs testing this critical or important function.")] = None,
    exit_plan: Annotated[str | None, typer.Option(
        "--exit-plan", help="Only runs testing this exit plan (ID, or ID@version).")] = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Only this scenario (provider_outage, failed_delivery, "
                           "unexpected_termination, planned_exit).")] = None,
    test_type: Annotated[str | None, typer.Option(
        "--test-type", help="Only this test type (tabletop, partial_drill, full_drill).")]
    = None,
) -> None:
    """List past runs from the ledger: verdict, duration, completeness and cost; filter by
    drill or by the scope a run tested."""
    from exitkit.evidence.history import ScopeFilter, history_rows, history_table

    try:
        scope = ScopeFilter.of(contract=contract, function=function, exit_plan=exit_plan,
                               scenario=scenario, test_type=test_type)
        rows = history_rows(ledger, drill, scope)
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)
    if as_json:
        sys.stdout.write(json.dumps([dataclasses.asdict(row) for row in rows], indent=2,
                                    default=str) + "\n")
    else:
        stdout.print(history_table(rows))


@app.command("report")
def report(
    source: Annotated[Path, typer.Argument(metavar="RECORD_OR_LEDGER",
                                           help="A drill record (.json) or a ledger.")],
    report_format: Annotated[str, typer.Option(
        "--format", "-f", help="html, md, junit or prom.")] = "html",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here (atomically) instead of stdout.")] = None,
    drill: Annotated[str | None, typer.Option(
        "--drill", help="From a ledger: report on this drill's latest run.")] = None,
    framework: Annotated[str | None, typer.Option(
        "--framework", help="Report per requirement of this framework (dora, data-act, "
                            "...; see compliance/): evidenced and passed, failed, or not "
                            "covered, with where the evidence is. Formats md, json, html, "
                            "junit.")] = None,
) -> None:
    """Render a drill's report: HTML (self-contained), Markdown, JUnit XML or Prometheus.

    From a ledger, the latest run is reported with its drill's history across runs. With
    --framework, the report maps the run to that framework's requirements.
    """
    from exitkit.evidence.store import write_atomically

    if framework is not None:
        text = _framework_report(source, framework, report_format, drill)
    else:
        text = _drill_report(source, report_format, drill)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text)


def _framework_report(source: Path, framework: str, report_format: str,
                      drill: str | None) -> str:
    """The run mapped to *framework*'s requirements, rendered."""
    from exitkit.compliance.evaluate import assess_file
    from exitkit.compliance.model import load_framework
    from exitkit.compliance.render import FRAMEWORK_FORMATS, render_framework

    if report_format not in FRAMEWORK_FORMATS:
        _fail(f"--format: {report_format!r} is not one of {', '.join(FRAMEWORK_FORMATS)} "
              f"(with --framework)")
    try:
        return render_framework(assess_file(load_framework(framework), str(source), drill),
                                report_format)
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)
    raise AssertionError("unreachable")


def _drill_report(source: Path, report_format: str, drill: str | None) -> str:
    """The run's drill report, rendered."""
    from exitkit.evidence.history import runs_for_report
    from exitkit.evidence.reports import REPORT_FORMATS, render_report

    if report_format not in REPORT_FORMATS:
        _fail(f"--format: {report_format!r} is not one of {', '.join(REPORT_FORMATS)}")
    try:
        record, runs = runs_for_report(source, drill)
    except ExitkitError as exc:
        _fail(str(exc), exc.exit_code)
    return render_report(record, runs, report_format)


@app.command("assess")
def assess(
    endpoint: Annotated[str | None, typer.Option(
        help="S3-compatible account endpoint URL (default: AWS for the region); the "
             "account's other APIs (EC2, ECR, RDS, ...) are asked at the same URL.")] = None,
    region: Annotated[str, typer.Option(help="Region to assess.")] = "us-east-1",
    access_key_env: Annotated[str | None, typer.Option(
        help="Name of the variable holding the access key (never the key).")] = None,
    secret_key_env: Annotated[str | None, typer.Option(
        help="Name of the variable holding the secret key.")] = None,
    state: Annotated[list[Path] | None, typer.Option(
        "--state", help="Terraform/OpenTofu state file (repeatable); alone, the offline "
                        "mode: no credentials, no request.")] = None,
    target: Annotated[str, typer.Option(help="Catalog entry of the exit target.")]
    = "self-hosted",
    vm_target: Annotated[str | None, typer.Option(
        help="Catalog entry the VMs are sized for (default: the target, if it sells VMs).")]
    = None,
    source_catalog: Annotated[str | None, typer.Option(
        help="Catalog entry that prices the source (default: AWS's for the region).")] = None,
    catalog: CatalogOpt = None,
    ledger: Annotated[Path | None, typer.Option(
        "--ledger", envvar="EXITKIT_LEDGER", show_default=False,
        help="Drill ledger: drill coverage and measured throughput.")] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Sample each bucket's listing (first 1,000 keys) instead of "
                        "listing it all; sizes become lower bounds.")] = False,
    output: Annotated[Path, typer.Option(
        "--out", "-o", help="Directory for assessment.json, exit-plan.html and "
                            "exit-plan.md.")] = Path("results"),
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the assessment as JSON on stdout.")] = False,
) -> None:
    """Assess a whole estate's exit readiness and write its exit plan.

    Inventories the account (buckets with their settings and sizes, EC2 instances, ECR
    images, managed services) and/or state files, judges each asset (portable, needs work,
    blocked), projects its exit time and cost, and shows which drills cover it. Exit 0
    when nothing is blocked, 1 when an asset is blocked, 2 on bad input.
    """
    from pydantic import ValidationError

    from exitkit.api import AssessOptions, assess_estate
    from exitkit.assess.plan import render_terminal
    from exitkit.drill.spec_base import Credentials

    if (access_key_env is None) != (secret_key_env is None):
        _fail("--access-key-env and --secret-key-env go together")
    try:
        credentials = Credentials(access_key_env=access_key_env,
                                  secret_key_env=secret_key_env) if access_key_env else None
    except ValidationError:
        _fail("--access-key-env/--secret-key-env: give variable names (A-Z, 0-9, _)")
    options = AssessOptions(
        region=region, endpoint=endpoint, credentials=credentials,
        state_files=tuple(map(str, state or ())), target_catalog=target,
        vm_target_catalog=vm_target, source_catalog=source_catalog,
        ledger=str(ledger) if ledger else None, quick=quick,
        catalog_dirs=tuple(map(str, catalog or ())))
    result = _guarded(lambda _bars: assess_estate(options, output_dir=output), True, as_json)
    if as_json:
        sys.stdout.write(result.assessment.model_dump_json(indent=2) + "\n")
    else:
        stdout.print(render_terminal(result.assessment))
        for path in result.files:
            stdout.print(f"written: {path}", markup=False, soft_wrap=True)
    blocked = [a.id for a in result.assessment.assets if a.verdict == "blocked"]
    if blocked:
        stderr.print(f"exitkit: blocked: {', '.join(blocked)}", markup=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)
