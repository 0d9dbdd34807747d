"""The workload part of ``exitkit demo --with-workload``: a website moves off AWS.

Its files sit in a bucket on the embedded AWS-compatible server, its image in a loopback
registry (built here from Debian's static busybox). ``drills/demo-workload.yaml`` moves
both to the self-hosted side (SeaweedFS, a second registry) and runs the site on Podman's
Docker-compatible service, which must then serve the migrated files.
"""

import random
from collections.abc import Callable, Iterator

import boto3
from contextlib import ExitStack
from pathlib import Path

from exitkit.embedded.containers import PodmanService, RegistryServer, build_web_image
from exitkit.embedded.seed import SeedObject, seed_bucket
from exitkit.embedded.servers import MotoServer, SeaweedServer, free_port
from exitkit.providers.boto import s3_client
from exitkit.resources import bundled_dir

SITE_BUCKET = "exitkit-demo-site"
REGION = "eu-central-1"


def workload_spec() -> Path:
    """The bundled workload demo drill spec."""
    return bundled_dir("drills") / "demo-workload.yaml"


def site_objects(seed: int = 7) -> Iterator[SeedObject]:
    """The website's files: pages, styles, scripts and images."""
    rng = random.Random(seed)
    yield SeedObject("index.html", b"<!doctype html><title>Gemeente Voorbeeld</title>\n",
                     "text/html")
    yield SeedObject("assets/site.css", b"body { font-family: sans-serif; }\n", "text/css")
    yield SeedObject("assets/app.js", b"console.log('exitkit');\n", "text/javascript")
    for number in range(12):
        yield SeedObject(f"images/photo-{number:03d}.jpg", rng.randbytes(rng.randint(2_000, 90_000)),
                         "image/jpeg")


#: the site's VMs at AWS: (name, instance type, extra tags)
SITE_VMS = (("site-web", "t3.small", ()), ("site-app", "m5.large", ()),
            ("site-db", "r5.large", (("exitkit:managed-service", "rds-postgres"),)))
#: the web server's user data: a boot script, as cloud-init runs it
SITE_WEB_USER_DATA = ("#!/bin/sh\n"
                      "echo '<p>site-web configured by its user data</p>' >> /www/index.html\n")


def seed_vms(source: MotoServer) -> None:
    """Run the site's VMs on the AWS-compatible server, tagged ``Estate=site``."""
    ec2 = boto3.client("ec2", endpoint_url=source.endpoint, region_name=REGION,
                       aws_access_key_id=source.access_key,
                       aws_secret_access_key=source.secret_key)
    image = next(image["ImageId"] for image in ec2.describe_images(Owners=["amazon"])["Images"]
                 if "Platform" not in image)  # a Linux image: no licence ties it to AWS
    for name, instance_type, tags in SITE_VMS:
        tag_list = [{"Key": "Name", "Value": name}, {"Key": "Estate", "Value": "site"},
                    *({"Key": key, "Value": value} for key, value in tags)]
        user_data = {"UserData": SITE_WEB_USER_DATA} if name == "site-web" else {}
        ec2.run_instances(ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}],
                          **user_data)


def seed_site(source: MotoServer) -> None:
    """Put the site's files and VMs on the AWS-compatible server."""
    client = s3_client(source.endpoint, source.access_key, source.secret_key, REGION)
    seed_bucket(client, SITE_BUCKET, list(site_objects()), region=REGION)
    seed_vms(source)


def start_workload_servers(stack: ExitStack) -> tuple[RegistryServer, RegistryServer,
                                                      PodmanService]:
    """Start the source and target registries and the Podman service on *stack*."""
    source_registry = stack.enter_context(RegistryServer())
    target_registry = stack.enter_context(RegistryServer())
    runtime = stack.enter_context(PodmanService([source_registry.host, target_registry.host]))
    return source_registry, target_registry, runtime


def prepare_workload(source: MotoServer, target: SeaweedServer, stack: ExitStack,
                     say: Callable[[str], None]) -> dict[str, str]:
    """Start the container side, build and push the image; return the variables
    ``drills/demo-workload.yaml`` reads (the site must be seeded: :func:`seed_site`)."""
    source_registry, target_registry, runtime = start_workload_servers(stack)
    say(f"registries: source {source_registry.host}, target {target_registry.host}")
    say(f"container runtime: Podman's Docker API at {runtime.url}")
    image = build_web_image(source_registry.host)
    say(f"image: {image} (busybox httpd, built locally)")
    return {
        "EXITKIT_DEMO_SOURCE_REGISTRY": source_registry.host,
        "EXITKIT_DEMO_TARGET_REGISTRY": target_registry.host,
        "EXITKIT_DEMO_RUNTIME_URL": runtime.url,
        "EXITKIT_DEMO_WEB_PORT": str(free_port()),
    }
