"""``exitkit demo``: a complete drill on embedded loopback servers.

An AWS-compatible source (moto_server) and a self-hosted target (SeaweedFS's S3 gateway)
start on free loopback ports; a realistic bucket is seeded; ``drills/demo.yaml`` runs
against them; both servers stop afterwards, also on Ctrl-C. Nothing leaves loopback.
"""

import os
from collections.abc import Callable
from pathlib import Path

from exitkit.api import DrillResult, run_drill
from exitkit.drill.events import DrillObserver
from exitkit.embedded.clients import s3_client
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.resources import bundled_dir

SOURCE_BUCKET = "exitkit-demo-source"
SOURCE_REGION = "eu-central-1"


def demo_spec() -> Path:
    """The bundled demo drill spec."""
    return bundled_dir("drills") / "demo.yaml"


def demo_environment(source: MotoServer, target: SeaweedServer) -> dict[str, str]:
    """The variables ``drills/demo.yaml`` reads: endpoints and credentials of both servers."""
    return {
        "EXITKIT_DEMO_SOURCE_ENDPOINT": source.endpoint,
        "EXITKIT_DEMO_SOURCE_ACCESS_KEY": source.access_key,
        "EXITKIT_DEMO_SOURCE_SECRET_KEY": source.secret_key,
        "EXITKIT_DEMO_TARGET_ENDPOINT": target.endpoint,
        "EXITKIT_DEMO_TARGET_ACCESS_KEY": target.access_key,
        "EXITKIT_DEMO_TARGET_SECRET_KEY": target.secret_key,
    }


def run_demo(results_dir: str | os.PathLike[str], objects: int = 2000,
             observer: DrillObserver | None = None,
             say: Callable[[str], None] = lambda _message: None) -> DrillResult:
    """Start both servers, seed about *objects* objects, run the demo drill, stop the servers."""
    with MotoServer() as source, SeaweedServer() as target:
        say(f"source: moto_server (AWS-compatible) at {source.endpoint}")
        say(f"target: SeaweedFS S3 gateway (self-hosted) at {target.endpoint}")
        client = s3_client(source.endpoint, source.access_key, source.secret_key, SOURCE_REGION)
        seed = list(demo_objects(objects))
        say(f"seeding {len(seed)} objects into s3://{SOURCE_BUCKET} ...")
        seed_bucket(client, SOURCE_BUCKET, seed, region=SOURCE_REGION)
        environ = {**os.environ, **demo_environment(source, target)}
        return run_drill(demo_spec(), results_dir, observer=observer, environ=environ)
