"""``exitkit demo``: a complete drill on embedded loopback servers.

An AWS-compatible source (moto_server) and a self-hosted target (SeaweedFS's S3 gateway)
start on free loopback ports; a realistic bucket is seeded (pre-compressed site assets
and an archive in GLACIER and DEEP_ARCHIVE among it); ``drills/demo.yaml`` runs against
them, restoring the archived objects; both servers stop afterwards, also on Ctrl-C.
Nothing leaves loopback.

The record is appended to ``<results>/ledger.jsonl``, signed with a demo key pair kept in
``<results>/demo-keys/`` (created on first use), and also stored in an Object Lock bucket
on the embedded AWS-compatible server. With *with_tsa*, a local RFC 3161 TSA (OpenSSL,
test CA in ``<results>/demo-tsa/``) stamps the ledger entry. Beside each record, the HTML
report and its DORA requirement report (``.dora.md``) are written.
"""

import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from exitkit.api import DrillResult, run_drill
from exitkit.compliance.evaluate import assess_file
from exitkit.compliance.model import load_framework
from exitkit.compliance.render import render_framework
from exitkit.drill.events import DrillObserver
from exitkit.evidence.history import runs_for_report
from exitkit.evidence.reports import render_report
from exitkit.evidence.signing import Signer, generate_key_pair, load_signer
from exitkit.evidence.store import write_atomically
from exitkit.providers.boto import s3_client
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.embedded.tsa import LocalTsa
from exitkit.embedded.vm_demo import prepare_vm, vm_spec
from exitkit.embedded.workload_demo import prepare_workload, seed_site, workload_spec
from exitkit.resources import bundled_dir

SOURCE_BUCKET = "exitkit-demo-source"
EVIDENCE_BUCKET = "exitkit-demo-evidence"
SOURCE_REGION = "eu-central-1"
LEDGER = "ledger.jsonl"
KEY_PREFIX = "demo-keys/ledger"
TSA_DIR = "demo-tsa"


def demo_spec() -> Path:
    """The bundled demo drill spec."""
    return bundled_dir("drills") / "demo.yaml"


def demo_environment(source: MotoServer, target: SeaweedServer) -> dict[str, str]:
    """The variables ``drills/demo.yaml`` reads: endpoints and credentials of both servers."""
    return {
        "EXITKIT_DEMO_SOURCE_ENDPOINT": source.endpoint,
        "EXITKIT_DEMO_SOURCE_ACCESS_KEY": source.access_key,
        "EXITKIT_DEMO_SOURCE_SECRET_KEY": source.secret_key,
        **demo_target_environment(target),
        "EXITKIT_DEMO_EVIDENCE_ENDPOINT": source.endpoint,
        "EXITKIT_DEMO_EVIDENCE_ACCESS_KEY": source.access_key,
        "EXITKIT_DEMO_EVIDENCE_SECRET_KEY": source.secret_key,
    }


def demo_target_environment(target: SeaweedServer) -> dict[str, str]:
    """The variables the demo specs read for their SeaweedFS target: endpoint and keys."""
    return {
        "EXITKIT_DEMO_TARGET_ENDPOINT": target.endpoint,
        "EXITKIT_DEMO_TARGET_ACCESS_KEY": target.access_key,
        "EXITKIT_DEMO_TARGET_SECRET_KEY": target.secret_key,
    }


def demo_signer(results_dir: Path) -> Signer:
    """The demo's signing key, created beside the results on first use."""
    private = results_dir / f"{KEY_PREFIX}.key"
    if not private.exists():
        generate_key_pair(results_dir / KEY_PREFIX)
    return load_signer(private)


def run_demo(results_dir: str | os.PathLike[str], objects: int = 2000,
             observer: DrillObserver | None = None,
             say: Callable[[str], None] = lambda _message: None,
             with_workload: bool = False, with_vm: bool = False,
             with_tsa: bool = False) -> list[DrillResult]:
    """Start the servers, seed about *objects* objects, run the demo drill (and with
    *with_workload* the workload drill, with *with_vm* the VM drill after it), stop the
    servers. With *with_tsa* a local TSA stamps the ledger entries."""
    with ExitStack() as stack:
        source = stack.enter_context(MotoServer())
        target = stack.enter_context(SeaweedServer(public_read=with_workload or with_vm))
        say(f"source: moto_server (AWS-compatible) at {source.endpoint}")
        say(f"target: SeaweedFS S3 gateway (self-hosted) at {target.endpoint}")
        client = s3_client(source.endpoint, source.access_key, source.secret_key, SOURCE_REGION)
        seed = list(demo_objects(objects, archived=True))
        say(f"seeding {len(seed)} objects into s3://{SOURCE_BUCKET} ...")
        seed_bucket(client, SOURCE_BUCKET, seed, region=SOURCE_REGION)
        client.create_bucket(Bucket=EVIDENCE_BUCKET, ObjectLockEnabledForBucket=True,
                             CreateBucketConfiguration={"LocationConstraint": SOURCE_REGION})
        environ = {**os.environ, **demo_environment(source, target)}
        results = Path(results_dir)
        signer = demo_signer(results)
        tsa_url = None
        if with_tsa:
            tsa = stack.enter_context(LocalTsa(results / TSA_DIR))
            tsa_url = tsa.url
            say(f"TSA: openssl ts (test CA {tsa.files.ca_file}) at {tsa_url}")
        done = [run_drill(demo_spec(), results, observer=observer, environ=environ,
                          ledger=results / LEDGER, signer=signer, tsa_url=tsa_url)]
        if with_workload or with_vm:
            seed_site(source)
        if with_workload:
            environ.update(prepare_workload(source, target, stack, say))
            done.append(run_drill(workload_spec(), results, observer=observer,
                                  environ=environ, ledger=results / LEDGER, signer=signer,
                                  tsa_url=tsa_url))
        if with_vm:
            environ.update(prepare_vm(target, stack, say))
            done.append(run_drill(vm_spec(), results, observer=observer,
                                  environ=environ, ledger=results / LEDGER, signer=signer,
                                  tsa_url=tsa_url))
    for result in done:
        record, history = runs_for_report(results / LEDGER, result.record.drill.name)
        report = result.path.with_suffix(".html")
        write_atomically(report, render_report(record, history, "html"))
        say(f"report: {report}")
        mapped = result.path.with_suffix(".dora.md")
        write_atomically(mapped, render_framework(assess_file(
            load_framework("dora"), str(results / LEDGER), result.record.drill.name), "md"))
        say(f"DORA requirements: {mapped}")
    anchor = f" --tsa-ca {results / TSA_DIR / 'ca.pem'}" if with_tsa else ""
    say(f"check the evidence: exitkit audit verify {results / LEDGER} "
        f"--pubkey {results / KEY_PREFIX}.pub{anchor}")
    return done
