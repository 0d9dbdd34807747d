"""``exitkit demo --source azure``: the demo drill from Azure Blob Storage (Azurite) to a
self-hosted SeaweedFS target, on loopback.

Azurite and SeaweedFS start on free loopback ports; a container shaped like a real estate
is seeded (:mod:`exitkit.embedded.azure_seed`: content encodings, content types, metadata,
index tags, odd keys, large block blobs, every access tier with an archive in Archive);
``drills/demo-azure.yaml`` runs against them, rehydrating the archive; both servers stop
afterwards, also on Ctrl-C. The record goes to the signed ledger beside the results, as
in the S3 demo.
"""

import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from exitkit.api import DrillResult, run_drill
from exitkit.drill.events import DrillObserver
from exitkit.embedded.azure_seed import azure_estate, blobs_by_tier, seed_container
from exitkit.embedded.demo import LEDGER, demo_signer, demo_target_environment
from exitkit.embedded.servers import AzuriteServer, SeaweedServer
from exitkit.evidence.history import runs_for_report
from exitkit.evidence.reports import render_report
from exitkit.evidence.store import write_atomically
from exitkit.resources import bundled_dir

SOURCE_CONTAINER = "exitkit-demo-source"


def azure_demo_spec() -> Path:
    """The bundled Azure demo drill spec."""
    return bundled_dir("drills") / "demo-azure.yaml"


def azure_demo_environment(source: AzuriteServer, target: SeaweedServer) -> dict[str, str]:
    """The variables ``drills/demo-azure.yaml`` reads."""
    return {
        "EXITKIT_DEMO_AZURE_ENDPOINT": source.blob_endpoint,
        "EXITKIT_DEMO_AZURE_ACCOUNT": source.account,
        "EXITKIT_DEMO_AZURE_KEY": source.account_key,
        **demo_target_environment(target),
    }


def run_azure_demo(results_dir: str | os.PathLike[str], objects: int = 2000,
                   observer: DrillObserver | None = None,
                   say: Callable[[str], None] = lambda _message: None) -> list[DrillResult]:
    """Start Azurite and SeaweedFS, seed about *objects* blobs, run the Azure demo drill,
    stop the servers."""
    with ExitStack() as stack:
        source = stack.enter_context(AzuriteServer())
        target = stack.enter_context(SeaweedServer())
        say(f"source: Azurite (Azure Blob Storage) at {source.blob_endpoint}")
        say(f"target: SeaweedFS S3 gateway (self-hosted) at {target.endpoint}")
        blobs = azure_estate(objects)
        tiers = ", ".join(f"{tier} {count}" for tier, count in blobs_by_tier(blobs))
        say(f"seeding {len(blobs)} blobs ({tiers}) into container {SOURCE_CONTAINER} ...")
        seed_container(source.connection_string(), SOURCE_CONTAINER, blobs)
        results = Path(results_dir)
        environ = {**os.environ, **azure_demo_environment(source, target)}
        result = run_drill(azure_demo_spec(), results, observer=observer, environ=environ,
                           ledger=results / LEDGER, signer=demo_signer(results))
    record, history = runs_for_report(results / LEDGER, result.record.drill.name)
    report = result.path.with_suffix(".html")
    write_atomically(report, render_report(record, history, "html"))
    say(f"report: {report}")
    say(f"check the evidence: exitkit audit verify {results / LEDGER} "
        f"--pubkey {results / 'demo-keys/ledger'}.pub")
    return [result]
