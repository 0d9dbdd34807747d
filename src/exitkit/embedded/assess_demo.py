"""``exitkit demo --assess``: assess a seeded estate on an embedded moto_server.

The account gets several differently configured buckets (some must come out blocked), EC2
instances, registry images and managed services (:mod:`exitkit.embedded.assess_seed`); a
Terraform state describes what lives outside it. One bucket is drilled first (to a local
directory, signed into the demo ledger) so that the plan shows measured throughput and drill
coverage beside stated defaults. Then ``assess`` runs and the exit plan is written.
"""

import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from exitkit.api import AssessOptions, AssessResult, assess_estate, run_drill
from exitkit.drill.events import DrillObserver
from exitkit.drill.spec_base import Credentials
from exitkit.embedded.assess_seed import REGION, EstateMotoServer, seed_estate, state_document
from exitkit.embedded.demo import LEDGER, demo_signer
from exitkit.embedded.servers import MotoServer
from exitkit.evidence.store import write_atomically

DRILLED_BUCKET = "estate-plain-backups"
TARGET_CATALOG = "ionos-eu-central-3"
ACCESS_KEY_ENV, SECRET_KEY_ENV = "EXITKIT_ESTATE_ACCESS_KEY", "EXITKIT_ESTATE_SECRET_KEY"


def drill_spec(endpoint_env: str, target_dir: Path) -> str:
    """The drill of :data:`DRILLED_BUCKET` to a local directory."""
    return f"""\
version: 1
name: estate-backups
description: Exit drill of the backup bucket to a directory (demo --assess).
source:
  provider: aws-s3
  endpoint: ${{{endpoint_env}}}
  region: {REGION}
  bucket: {DRILLED_BUCKET}
  credentials: {{access_key_env: {ACCESS_KEY_ENV}, secret_key_env: {SECRET_KEY_ENV}}}
target:
  provider: local
  path: {json.dumps(str(target_dir))}
  bucket: backups
  create_bucket: true
expectations:
  completeness: 100%
  accept_gaps:
    - {{property: encryption, reason: the target directory sits on an encrypted volume}}
"""


def run_assess_demo(results_dir: str | os.PathLike[str],
                    observer: DrillObserver | None = None,
                    say: Callable[[str], None] = lambda _message: None,
                    server: MotoServer | None = None) -> AssessResult:
    """Seed the estate, drill one bucket into the demo ledger, assess, write the plan
    (``<results>/exit-plan.html``, ``.md`` and ``assessment.json``). The account is an
    embedded moto_server started and stopped here, or *server* (left running)."""
    results = Path(results_dir).resolve()
    results.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        server = server or stack.enter_context(EstateMotoServer(results / "estate-moto"))
        say(f"account: moto_server (AWS-compatible) at {server.endpoint}")
        say("seeding buckets, instances, images and managed services ...")
        seed_estate(server.endpoint, server.access_key, server.secret_key)
        state = results / "estate.tfstate"
        write_atomically(state, json.dumps(state_document(), indent=2) + "\n")
        environ = {**os.environ, "EXITKIT_ESTATE_ENDPOINT": server.endpoint,
                   ACCESS_KEY_ENV: server.access_key, SECRET_KEY_ENV: server.secret_key}
        spec = results / "estate-backups.yaml"
        write_atomically(spec, drill_spec("EXITKIT_ESTATE_ENDPOINT", results / "estate-target"))
        drilled = run_drill(spec, results, observer=observer, environ=environ,
                            ledger=results / LEDGER, signer=demo_signer(results))
        say(f"drill of s3://{DRILLED_BUCKET}: {drilled.record.verdict} ({drilled.path.name})")
        options = AssessOptions(
            region=REGION, endpoint=server.endpoint,
            credentials=Credentials(access_key_env=ACCESS_KEY_ENV,
                                    secret_key_env=SECRET_KEY_ENV),
            state_files=(str(state),), target_catalog=TARGET_CATALOG,
            ledger=str(results / LEDGER))
        result = assess_estate(options, environ, output_dir=results)
    for path in result.files:
        say(f"written: {path}")
    return result
