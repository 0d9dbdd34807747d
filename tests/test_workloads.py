"""Workload drills on real local infrastructure: two OCI registries (docker-registry), Podman's
Docker-compatible service as the target runtime, SeaweedFS as the target bucket and
moto_server as the AWS side. The web image is built locally from static busybox."""

import hashlib
import json
import signal
import subprocess
import sys
import time

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from testcontainers.core.container import DockerContainer

from exitkit.embedded.servers import free_port
from exitkit.embedded.workload_demo import SITE_BUCKET, SITE_VMS, seed_vms, site_objects, workload_spec
from exitkit.embedded.seed import seed_bucket
from exitkit.providers.boto import s3_client
from exitkit.providers.containers import open_runtime
from exitkit.providers.image_copy import copy_image
from exitkit.providers.oci import ImageReference, RegistryClient
from tests.helpers import exitkit

PLANTED_SECRET = "workload-secret-6c1f0e9a"


@pytest.fixture(scope="module")
def site(moto):
    """The website's files in the AWS-side bucket, by key."""
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key, "eu-central-1")
    objects = list(site_objects())
    seed_bucket(client, SITE_BUCKET, objects, region="eu-central-1")
    seed_vms(moto)
    return {obj.key: obj.body for obj in objects}


@pytest.fixture
def drill_env(moto, public_seaweed, containers, site):
    """The variables drills/demo-workload.yaml reads, pointing at the test servers."""
    import os
    return {**os.environ,
            "EXITKIT_DEMO_SOURCE_ENDPOINT": moto.endpoint,
            "EXITKIT_DEMO_SOURCE_ACCESS_KEY": moto.access_key,
            "EXITKIT_DEMO_SOURCE_SECRET_KEY": moto.secret_key,
            "EXITKIT_DEMO_TARGET_ENDPOINT": public_seaweed.endpoint,
            "EXITKIT_DEMO_TARGET_ACCESS_KEY": public_seaweed.access_key,
            "EXITKIT_DEMO_TARGET_SECRET_KEY": public_seaweed.secret_key,
            "EXITKIT_DEMO_SOURCE_REGISTRY": containers.source_registry.host,
            "EXITKIT_DEMO_TARGET_REGISTRY": containers.target_registry.host,
            "EXITKIT_DEMO_RUNTIME_URL": containers.runtime.url,
            "EXITKIT_DEMO_WEB_PORT": str(free_port()),
            "WEB_TOKEN": PLANTED_SECRET}


def spec_with(tmp_path, change=None, name="workload-test"):
    """The bundled workload drill, renamed, changed by *change* (a function of the web
    service's dict), written to *tmp_path*."""
    spec = yaml.safe_load(workload_spec().read_text())
    spec["name"] = name
    service = spec["workloads"]["services"][0]
    service["secret_env"] = {"WEB_TOKEN": "WEB_TOKEN"}
    if change:
        change(service)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_drill(path, results, env):
    result = exitkit("drill", "run", str(path), "--results", str(results), "--json", env=env)
    record = json.loads(result.stdout) if result.stdout.strip() else None
    return result, record


def drill_containers(docker_client, drill):
    return docker_client.containers.list(all=True, filters={"label": f"exitkit.drill={drill}"})


def test_workload_drill_moves_image_and_data_and_serves_them(tmp_path, drill_env, containers,
                                                           docker_client, site):
    result, record = run_drill(spec_with(tmp_path), tmp_path / "results", drill_env)

    assert result.returncode == 0, result.stderr
    assert record["verdict"] == "passed"
    workload, = record["workloads"]
    image = workload["image"]
    source_ref, target_ref = (ImageReference.parse(image[side]) for side in ("source", "target"))
    assert target_ref.registry == containers.target_registry.host
    independent = {ref.registry: RegistryClient(ref.registry, tls_verify=False).manifest(
        ref.repository, ref.reference).digest for ref in (source_ref, target_ref)}
    assert image["source_digest"] == image["target_digest"] == independent[source_ref.registry] \
        == independent[target_ref.registry]
    assert image["digests_match"] and image["bytes"] > 1_000_000 and image["layers"] == 1

    assert workload["status"] == "healthy" and workload["health"]["passed"]
    assert workload["time_to_healthy_s"] > 0  # how fast is a benchmark's business
    data = workload["data"]
    assert data["checked"] == data["matched"] == 5
    for served in data["objects"]:
        expected = hashlib.sha256(site[served["key"]]).hexdigest()
        assert served["sha256_served"] == served["sha256_target"] == expected

    teardown = workload["teardown"]
    assert teardown["done"] and teardown["containers_removed"] == 1 and teardown["remaining"] == 0
    assert drill_containers(docker_client, "workload-test") == []
    assert workload["cost"]["target"]["catalog"] == "self-hosted"
    names = {e["name"]: e["passed"] for e in record["expectations"]}
    assert names["workload web: serves migrated data"] and names["workload web: torn down"]
    written = "".join(p.read_text() for p in (tmp_path / "results").iterdir() if p.is_file())
    assert PLANTED_SECRET not in written + result.stdout + result.stderr

    plan = record["vms"]
    assert sorted(vm["name"] for vm in plan["vms"]) == sorted(name for name, _, _ in SITE_VMS)
    assert (plan["totals"]["portable"], plan["totals"]["blocked"]) == (2, 1)
    blocked, = (vm for vm in plan["vms"] if vm["status"] == "blocked")
    assert blocked["name"] == "site-db" and blocked["blockers"][0]["code"] == "managed-service"
    assert all(vm["target_size"]["catalog"] == "self-hosted" for vm in plan["vms"])

    record_file, = (tmp_path / "results").glob("workload-test-*.json")
    markdown = exitkit("report", str(record_file), "--format", "md").stdout
    assert "### Workloads" in markdown and "5/5 identical" in markdown
    assert "### VM plan" in markdown and "3 VMs (2 portable, 1 blocked)" in markdown
    metrics = exitkit("report", str(record_file), "--format", "prom").stdout
    healthy, = (sample for family in text_string_to_metric_families(metrics)
                for sample in family.samples if sample.name == "exitkit_drill_workload_healthy")
    assert healthy.labels["workload"] == "web" and healthy.value == 1


def test_demo_with_workload_moves_the_site_and_leaves_nothing_running(tmp_path, containers,
                                                                       docker_client):
    result = exitkit("demo", "--with-workload", "--objects", "60", "--results",
                     str(tmp_path / "results"), "--json")

    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert records == [json.loads(path.read_text())
                       for path in sorted((tmp_path / "results").glob("*.json"))]
    assert sorted(record["drill"]["name"] for record in records) == ["demo", "demo-workload"]
    workload, = next(r for r in records if r["drill"]["name"] == "demo-workload")["workloads"]
    assert workload["status"] == "healthy" and workload["data"]["matched"] == 5
    assert workload["teardown"]["done"] and drill_containers(docker_client, "demo-workload") == []


def test_unhealthy_workload_fails_the_drill_and_is_still_removed(tmp_path, drill_env,
                                                                 docker_client):
    def wrong_body(service):
        service["health"]["http"]["body_contains"] = "this text is not on the page"
        service["health"]["deadline"] = "3s"

    result, record = run_drill(spec_with(tmp_path, wrong_body, "workload-unhealthy"),
                               tmp_path / "results", drill_env)

    assert result.returncode == 1, result.stderr
    workload, = record["workloads"]
    assert workload["status"] == "unhealthy" and workload["time_to_healthy_s"] is None
    assert "body lacks" in workload["health"]["detail"]
    assert workload["health"]["attempts"] > 1
    assert workload["teardown"]["done"] and workload["teardown"]["containers_removed"] == 1
    failed = {e["name"] for e in record["expectations"] if not e["passed"]}
    assert failed == {"workload web: healthy", "workload web: serves migrated data",
                      "workload web: max_time_to_healthy"}
    assert drill_containers(docker_client, "workload-unhealthy") == []


def test_exec_health_check_and_a_crashing_workload(tmp_path, drill_env, docker_client):
    def crashes(service):
        service["command"] = ["/bin/sh", "-c", "echo config missing >&2; exit 3"]
        service["health"] = {"exec": {"command": ["/bin/sh", "-c", "test -e /never"]},
                             "deadline": "10m"}
        service.pop("data")

    result, record = run_drill(spec_with(tmp_path, crashes, "workload-crash"),
                               tmp_path / "results", drill_env)

    assert result.returncode == 1, result.stderr
    workload, = record["workloads"]
    assert workload["status"] == "unhealthy" and workload["errors"] == []
    health = workload["health"]
    assert health["kind"] == "exec" and not health["passed"]
    # the wait ended because the container exited, not at the ten-minute deadline
    assert health["detail"].endswith("; container exited with code 3: config missing"), health
    assert "deadline" not in health["detail"]
    assert workload["teardown"]["done"]
    assert drill_containers(docker_client, "workload-crash") == []


def test_leftovers_of_an_interrupted_run_are_removed_first(tmp_path, drill_env, containers,
                                                          docker_env, docker_client):
    leftover = DockerContainer(containers.web_image).with_kwargs(
        labels={"exitkit.drill": "workload-leftover", "exitkit.service": "web"})
    leftover.start()
    try:
        assert len(drill_containers(docker_client, "workload-leftover")) == 1
        result, record = run_drill(spec_with(tmp_path, name="workload-leftover"),
                                   tmp_path / "results", drill_env)
    finally:
        try:
            leftover.stop()
        except Exception:  # already removed by the drill, as it should be
            pass
    assert result.returncode == 0, result.stderr
    assert record["workloads"][0]["teardown"]["stale_removed"] == 1
    assert drill_containers(docker_client, "workload-leftover") == []


def test_ctrl_c_while_waiting_for_health_still_tears_down(tmp_path, drill_env, docker_client):
    def never_healthy(service):
        service["health"]["http"]["path"] = "/missing.html"
        service["health"]["deadline"] = "120s"

    path = spec_with(tmp_path, never_healthy, "workload-interrupted")
    process = subprocess.Popen([sys.executable, "-m", "exitkit", "drill", "run", str(path),
                                "--results", str(tmp_path / "results")], env=drill_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not drill_containers(docker_client, "workload-interrupted"):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "web: teardown done" in stderr + stdout
    assert drill_containers(docker_client, "workload-interrupted") == []


def test_bad_workload_specs_are_one_line_errors(tmp_path, drill_env):
    def bad_image(service):
        service["image"] = "web:latest"

    result, _ = run_drill(spec_with(tmp_path, bad_image, "workload-bad"), tmp_path / "r",
                          drill_env)
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert "workload-bad.yaml:" in line and "workloads.services.0.image" in line

    env = {k: v for k, v in drill_env.items() if k != "WEB_TOKEN"}
    result, _ = run_drill(spec_with(tmp_path, name="workload-nosecret"), tmp_path / "r", env)
    assert result.returncode == 2
    assert "secret_env.WEB_TOKEN: environment variable WEB_TOKEN is not set" in result.stderr

    env = {**drill_env, "EXITKIT_DEMO_RUNTIME_URL": f"http://127.0.0.1:{free_port()}"}
    result, _ = run_drill(spec_with(tmp_path, name="workload-noruntime"), tmp_path / "r", env)
    assert result.returncode == 2 and "runtime unreachable" in result.stderr
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.json"))


def test_adapter_fills_libcloud_docker_gaps_on_podman(containers):
    """libcloud's stock Docker driver cannot pull on Podman and drops port bindings; the
    adapter pulls, publishes ports, runs commands and finds and removes what it labelled."""
    source = ImageReference.parse(containers.web_image)
    target = source.moved_to(containers.target_registry.host, "gaps")
    copy_image(source, target, {source.registry: False, target.registry: False}, {}, 1)
    runtime = open_runtime(containers.runtime.url)
    assert not runtime.has_image(str(target))
    image_id = runtime.pull(str(target))
    assert image_id.startswith("sha256:") and runtime.has_image(str(target))
    published = free_port()
    ours = None
    try:
        ours = runtime.create("exitkit-gap-ours", str(target), None, {}, {8080: published},
                              "bridge", 0.25, 32 * 2**20, {"exitkit.test": "gaps"})
        assert wait_reachable(published)
        assert runtime.exec(ours, ["/bin/sh", "-c", "exit 7"]) == 7
        assert runtime.labelled({"exitkit.test": "gaps"}) == [ours]
    finally:
        runtime.remove(ours) if ours else None
    assert runtime.labelled({"exitkit.test": "gaps"}) == []
    assert not reachable(published)
    runtime.remove_image(str(target))
    assert not runtime.has_image(str(target))


def reachable(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=1).ok
    except requests.RequestException:
        return False


def wait_reachable(port: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reachable(port):
            return True
        time.sleep(0.2)
    return False
