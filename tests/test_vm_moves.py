"""VM moves on a real hypervisor: a private libvirtd and virtlogd (QEMU under TCG), EC2
instances on moto_server, the site's files copied to SeaweedFS, and a test image built
from Debian packages (cloud kernel, busybox initramfs) by the module's fixture.

One drill moves four planned instances: ``web`` is rebuilt from the base image with its
user data, ``app`` is imported from a locally built exported disk (moto cannot export),
``db`` asks for an import with no exported disk, and ``broken`` powers off from its user
data (after printing a secret on the console).
"""

import hashlib
import json
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import libvirt
import pytest
import yaml

from exitkit.embedded.libvirt_daemon import LibvirtDaemon
from exitkit.embedded.seed import seed_bucket
from exitkit.embedded.servers import free_port
from exitkit.embedded.vm_demo import GUEST_HOST_ADDRESS
from exitkit.embedded.vm_image import build_image
from exitkit.embedded.workload_demo import site_objects
from exitkit.providers.boto import s3_client
from exitkit.providers.compute import Disk, MachineSpec
from exitkit.providers.libvirt_compute import LibvirtTarget
from tests.helpers import exitkit

REGION = "eu-central-1"
PLANTED_SECRET = "vm-bootstrap-token-5d1e7c"
MARKER = "configured by its user data"
#: the estate's instances: name, instance type, user data (a boot script or none)
INSTANCES = (
    ("web", "t3.micro", f"#!/bin/sh\necho '<p>web {MARKER}</p>' >> /www/index.html\n"),
    ("app", "t3.small", None),
    ("db", "t3.micro", "#!/bin/sh\necho db\n"),
    ("broken", "t3.nano", f"#!/bin/sh\necho token={PLANTED_SECRET}\npoweroff -f\n"),
)


@pytest.fixture(scope="module")
def vm_image(tmp_path_factory):
    """kernel, initrd and exported disk, built from Debian packages."""
    return build_image(tmp_path_factory.mktemp("vm-image"))


@pytest.fixture(scope="module")
def hypervisor():
    """A private libvirtd with its virtlogd, stopped after the module."""
    with LibvirtDaemon() as daemon:
        yield daemon


@pytest.fixture(scope="module")
def estate(moto):
    """The site's files in a bucket and its instances (tagged with a fresh estate name)."""
    name = f"vmtest-{secrets.token_hex(3)}"
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key, REGION)
    files = {obj.key: obj.body for obj in site_objects(seed=len(name))}
    seed_bucket(client, name, [obj for obj in site_objects(seed=len(name))], region=REGION)
    ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name=REGION,
                       aws_access_key_id=moto.access_key, aws_secret_access_key=moto.secret_key)
    image = next(image["ImageId"] for image in ec2.describe_images(Owners=["amazon"])["Images"]
                 if "Platform" not in image)
    ids = {}
    for vm, instance_type, user_data in INSTANCES:
        extra = {"UserData": user_data} if user_data else {}
        ids[vm] = ec2.run_instances(
            ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": vm}, {"Key": "Estate", "Value": name}]}],
            **extra)["Instances"][0]["InstanceId"]
    return {"name": name, "files": files, "ids": ids}


def _move(vm, strategy, boot, port, body=MARKER, deadline="4m", **extra):
    return {"vm": vm, "strategy": strategy, "boot": boot,
            "ports": [{"guest": 80, "host": port}],
            "health": {"http": {"port": 80, "path": "/", "body_contains": body},
                       "deadline": deadline},
            **extra}


def write_spec(path: Path, name: str, moto, seaweed, estate, hypervisor, moves,
               workdir: Path) -> Path:
    spec = {
        "version": 1, "name": name,
        "source": {"provider": "aws-s3", "endpoint": moto.endpoint, "region": REGION,
                   "bucket": estate["name"],
                   "credentials": {"access_key_env": "SRC_KEY", "secret_key_env": "SRC_SECRET"}},
        "target": {"provider": "seaweedfs", "endpoint": seaweed.endpoint,
                   "bucket": f"{name}-site", "create_bucket": True,
                   "credentials": {"access_key_env": "TGT_KEY", "secret_key_env": "TGT_SECRET"}},
        "vms": {
            "source": {"provider": "aws-ec2", "endpoint": moto.endpoint, "region": REGION,
                       "credentials": {"access_key_env": "SRC_KEY",
                                       "secret_key_env": "SRC_SECRET"}},
            "target_catalog": "self-hosted",
            "filters": {"tag:Estate": estate["name"]},
            "target": {"provider": "libvirt", "uri": hypervisor.uri, "workdir": str(workdir),
                       "data_endpoint": f"http://{GUEST_HOST_ADDRESS}:{seaweed.port}"},
            "move": moves},
        "expectations": {"max_vm_time_to_healthy": "5m"},
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def env_for(moto, seaweed):
    import os
    return {**os.environ, "SRC_KEY": moto.access_key, "SRC_SECRET": moto.secret_key,
            "TGT_KEY": seaweed.access_key, "TGT_SECRET": seaweed.secret_key}


def domains(hypervisor) -> list[str]:
    """Every domain the hypervisor holds, asked with libvirt's binding directly."""
    connection = libvirt.open(hypervisor.uri)
    try:
        return sorted(domain.name() for domain in connection.listAllDomains())
    finally:
        connection.close()


def diagnosis(move: dict) -> str:
    """What a failed health check left in the record: the last probe, the boot time and the
    guest's console, for an assertion's message."""
    return (f"{move['vm']}: {move['health']}, booted after {move['boot_s']} s, "
            f"errors {move['errors']}, console: {move['console_tail']}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def moved(tmp_path_factory, moto, public_seaweed, estate, hypervisor, vm_image):
    """One drill moving all four instances; a leftover domain of ``web`` planted first."""
    tmp = tmp_path_factory.mktemp("vm-moves")
    boot = {"kernel": str(vm_image["kernel"]), "initrd": str(vm_image["initrd"]),
            "cmdline": "console=ttyS0 panic=-1"}
    moves = [
        _move("web", "rebuild", boot, free_port(),
              data={"port": 80, "path": "/cgi-bin/data/{key}", "objects": 6}),
        {**_move(estate["ids"]["app"], "import",
                 {**boot, "cmdline": "console=ttyS0 root=/dev/vda"}, free_port(),
                 disk={"path": str(vm_image["disk"]), "format": "vmdk"},
                 data={"port": 80, "path": "/cgi-bin/data/{key}", "objects": 2,
                       "prefix": "assets/"}),
         "ports": [{"guest": 80, "host": free_port()}, {"guest": 22, "host": free_port()}],
         "health": {"tcp": {"port": 22}, "deadline": "4m"}},
        _move("db", "import", boot, free_port()),
        _move("broken", "rebuild", boot, free_port(), body="never served"),
    ]
    spec = write_spec(tmp / "vm-moves.yaml", "vmtest", moto, public_seaweed, estate, hypervisor,
                      moves, tmp / "work")
    target = LibvirtTarget(hypervisor.uri)
    leftover = MachineSpec(name="exitkit-vmtest-web-deadbeef", vcpus=1, memory_mib=64,
                           disks=(), kernel=vm_image["kernel"], initrd=vm_image["initrd"])
    target.create(leftover)  # an interrupted run's domain, still running
    target.close()
    result = exitkit("drill", "run", str(spec), "--json", "-r", str(tmp / "results"),
                     env=env_for(moto, public_seaweed))
    return result, json.loads(result.stdout), tmp


def test_moved_vms_boot_answer_and_serve_the_migrated_data(moved, estate, public_seaweed,
                                                          vm_image):
    result, record, _ = moved
    assert result.returncode == 1, result.stderr
    assert record["schema_version"] == "1.6" and record["errors"] == []
    moves = {move["vm"]: move for move in record["vm_moves"]}
    assert set(moves) == {"web", "app", "db", "broken"}
    target = boto3.client("s3", endpoint_url=public_seaweed.endpoint, region_name="us-east-1",
                          aws_access_key_id=public_seaweed.access_key,
                          aws_secret_access_key=public_seaweed.secret_key)
    plan = {vm["name"]: vm for vm in record["vms"]["vms"]}
    for name in ("web", "app"):
        move = moves[name]
        assert move["status"] == "healthy" and move["health"]["passed"], diagnosis(move)
        assert 0 < move["boot_s"] <= move["time_to_healthy_s"]
        served = move["data"]["objects"]
        assert move["data"]["passed"] and len(served) == move["data"]["checked"] > 0
        for obj in served:  # read back with an independent client
            body = target.get_object(Bucket="vmtest-site", Key=obj["key"])["Body"].read()
            assert obj["sha256_served"] == hashlib.sha256(body).hexdigest() \
                == hashlib.sha256(estate["files"][obj["key"]]).hexdigest()
        size = plan[name]["target_size"]
        assert move["sizing"] == {"size": size["name"], "vcpus": int(size["vcpus"]),
                                  "memory_mib": int(size["memory_gib"] * 1024),
                                  "disk_gib": max(v["size_gib"] for v in plan[name]["volumes"])}
        assert move["cost"] == {"source_eur": plan[name]["source_size"]["price_month_eur"],
                                "target_eur": size["price_month_eur"],
                                "source_size": plan[name]["instance_type"],
                                "target_size": size["name"]}
    assert {obj["key"].split("/")[0] for obj in moves["app"]["data"]["objects"]} == {"assets"}


def test_rebuild_carries_the_user_data_and_records_the_base_image(moved, vm_image, estate):
    _, record, _ = moved
    web = next(move for move in record["vm_moves"] if move["vm"] == "web")
    user_data = dict((vm, data) for vm, _, data in INSTANCES)["web"]
    assert web["user_data"] == {"present": True, "matches_plan": True,
                                "sha256": hashlib.sha256(user_data.encode()).hexdigest()}
    assert web["image"]["kind"] == "kernel+initrd"
    assert {f["role"]: f["sha256"] for f in web["image"]["files"]} == {
        "kernel": sha256(vm_image["kernel"]), "initrd": sha256(vm_image["initrd"])}
    # the body held what the user data wrote
    assert web["health"]["detail"] == "HTTP 200", diagnosis(web)
    assert web["teardown"]["stale_removed"] == 1  # the planted leftover


def test_import_converts_the_exported_disk_and_proves_the_conversion(moved, vm_image):
    _, record, _ = moved
    app = next(move for move in record["vm_moves"] if move["vm"] == "app")
    assert app["strategy"] == "import" and app["image"]["kind"] == "disk"
    assert app["image"]["source_format"] == "vmdk" and app["image"]["conversion_verified"]
    files = {f["role"]: f for f in app["image"]["files"]}
    assert files["exported-disk"]["sha256"] == sha256(vm_image["disk"])
    assert files["exported-disk"]["bytes"] == vm_image["disk"].stat().st_size
    assert files["converted-disk"]["sha256"] != files["exported-disk"]["sha256"]  # qcow2 now
    assert app["export"]["available"] and app["user_data"] == {"present": False, "sha256": None,
                                                               "matches_plan": True}
    # healthy by TCP: the guest's banner (its hostname from the seed), not the port forward
    assert app["health"]["kind"] == "tcp" and app["health"]["passed"]
    assert app["health"]["detail"] == "banner 'exitkit-vm app'"


def test_an_import_the_source_cannot_export_is_recorded_and_fails(moved, hypervisor):
    _, record, _ = moved
    db = next(move for move in record["vm_moves"] if move["vm"] == "db")
    assert db["status"] == "not-exported" and db["domain"] is None and db["teardown"] is None
    assert not db["export"]["available"]
    assert "DescribeExportImageTasks" in db["export"]["detail"]
    assert "cannot export" in db["export"]["detail"]
    failed = sorted(e["name"] for e in record["expectations"] if not e["passed"])
    assert failed == ["vm broken: healthy", "vm broken: max_vm_time_to_healthy", "vm db: moved"]


def test_every_vm_is_torn_down_also_after_a_failed_check(moved, hypervisor):
    _, record, tmp = moved
    broken = next(move for move in record["vm_moves"] if move["vm"] == "broken")
    assert broken["status"] == "unhealthy" and not broken["health"]["passed"]
    assert broken["health"]["detail"].endswith("the domain stopped")  # its user data powers off
    assert broken["time_to_healthy_s"] is None and broken["boot_s"] > 0
    assert "token=***" in broken["console_tail"]  # the user data echoed a secret
    assert PLANTED_SECRET not in json.dumps(record)
    for move in record["vm_moves"]:
        if move["status"] != "not-exported":
            teardown = move["teardown"]
            assert teardown["done"] and teardown["domain_removed"], move["vm"]
            assert teardown["remaining_domains"] == 0 and teardown["remaining_files"] == 0
    assert domains(hypervisor) == []  # asked independently
    assert list((tmp / "work").iterdir()) == []


def test_reports_show_each_moved_vm(moved):
    from exitkit.evidence.record import DrillRecord
    from exitkit.evidence.reports import render_report

    _, record, _ = moved
    parsed = DrillRecord.model_validate(record)
    markdown = render_report(parsed, [], "md")
    web = next(move for move in record["vm_moves"] if move["vm"] == "web")
    row = next(line for line in markdown.splitlines() if line.startswith("| web | rebuild |"))
    assert "| healthy |" in row and f"{web['data']['checked']}/{web['data']['checked']} " \
        "identical" in row and web["image"]["files"][0]["sha256"][:12] in row
    prometheus = render_report(parsed, [], "prom")
    assert 'exitkit_drill_vm_move_healthy{drill="vmtest",vm="broken",strategy="rebuild"} 0' \
        in prometheus
    assert 'exitkit_drill_vm_move_torn_down{drill="vmtest",vm="app",strategy="import"} 1' \
        in prometheus


def test_libcloud_libvirt_gaps_are_filled(hypervisor, vm_image, tmp_path):
    """libcloud has no create; its destroy_node leaves the definition behind."""
    target = LibvirtTarget(hypervisor.uri)
    spec = MachineSpec(name="exitkit-gap-check", vcpus=1, memory_mib=64,
                       disks=(Disk(vm_image["disk"], "vmdk", read_only=True),),
                       kernel=vm_image["kernel"], initrd=vm_image["initrd"],
                       console_log=tmp_path / "console.log")
    try:
        assert target.create(spec) == "exitkit-gap-check" and target.running("exitkit-gap-check")
        node = next(n for n in target.driver.list_nodes() if n.name == "exitkit-gap-check")
        target.driver.destroy_node(node)
        assert not target.running("exitkit-gap-check")
        assert target.names("exitkit-gap") == ["exitkit-gap-check"]  # still defined
        assert target.remove("exitkit-gap-check") and target.names("exitkit-gap") == []
        assert not target.remove("exitkit-gap-check")
    finally:
        target.remove("exitkit-gap-check")
        target.close()
    assert domains(hypervisor) == []


def test_ctrl_c_during_boot_removes_the_domain(tmp_path, moto, public_seaweed, estate,
                                              hypervisor, vm_image):
    boot = {"kernel": str(vm_image["kernel"]), "initrd": str(vm_image["initrd"])}
    spec = write_spec(tmp_path / "interrupted.yaml", "vmstop", moto, public_seaweed, estate,
                      hypervisor, [_move("web", "rebuild", boot, free_port())], tmp_path / "work")
    process = subprocess.Popen([sys.executable, "-m", "exitkit", "drill", "run", str(spec),
                                "-r", str(tmp_path / "results")], env=env_for(moto, public_seaweed),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not [name for name in domains(hypervisor) if name.startswith("exitkit-vmstop-")]:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "web: teardown done" in stderr + stdout
    assert domains(hypervisor) == []
    assert list((tmp_path / "work").iterdir()) == []


def test_bad_vm_moves_are_one_line_errors(tmp_path, moto, public_seaweed, estate, hypervisor,
                                          vm_image):
    boot = {"kernel": str(vm_image["kernel"]), "initrd": str(vm_image["initrd"])}
    unforwarded = {**_move("web", "rebuild", boot, free_port()), "ports": []}
    spec = write_spec(tmp_path / "bad.yaml", "vmbad", moto, public_seaweed, estate, hypervisor,
                      [unforwarded], tmp_path / "work")
    result = exitkit("drill", "run", str(spec), "-r", str(tmp_path / "r"),
                     env=env_for(moto, public_seaweed))
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert "bad.yaml:" in line and "vms.move.0" in line and "not forwarded" in line

    class Dead:
        uri = f"qemu:///system?socket={tmp_path / 'none.sock'}"
    spec = write_spec(tmp_path / "dead.yaml", "vmdead", moto, public_seaweed, estate, Dead,
                      [_move("web", "rebuild", boot, free_port())], tmp_path / "work")
    result = exitkit("drill", "run", str(spec), "-r", str(tmp_path / "r"),
                     env=env_for(moto, public_seaweed))
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert "libvirt qemu:///system?socket=" in line and "cannot connect" in line


def test_the_demo_vm_drill_rebuilds_the_site_web_server_with_a_data_check():
    from exitkit.drill.spec_file import load_spec
    from exitkit.embedded.vm_demo import vm_spec
    from exitkit.embedded.workload_demo import SITE_VMS, SITE_WEB_USER_DATA

    names = ("SOURCE_ENDPOINT", "SOURCE_ACCESS_KEY", "SOURCE_SECRET_KEY", "TARGET_ENDPOINT",
             "TARGET_ACCESS_KEY", "TARGET_SECRET_KEY", "LIBVIRT_URI", "VM_IMAGE", "VM_PORT",
             "VM_DATA_ENDPOINT")
    environ = {f"EXITKIT_DEMO_{name}": f"http://{name.lower()}:80" for name in names}
    environ["EXITKIT_DEMO_VM_PORT"] = str(free_port())
    vms = load_spec(vm_spec(), environ).spec.vms
    move, = vms.move
    assert move.vm in {name for name, _, _ in SITE_VMS} and move.strategy == "rebuild"
    assert move.data is not None and move.health.http.body_contains in SITE_WEB_USER_DATA
