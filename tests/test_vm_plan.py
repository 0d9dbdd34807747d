"""VM exit plans against a real moto_server: EC2 inventory through libcloud, sizing, blockers."""

import hashlib
import json
from datetime import date
from urllib.parse import urlsplit

import boto3
import pytest
import yaml
from pydantic import SecretStr, ValidationError

from exitkit.catalog.load import load_catalog
from exitkit.catalog.model import CatalogEntry
from exitkit.drill.spec_file import Keys
from exitkit.drill.vm_plan import image_plan, plan_vms
from exitkit.drill.vm_spec import VmSection
from exitkit.embedded.servers import MotoServer, free_port
from exitkit.errors import EndpointError
from exitkit.measure.sizing import nearest_size
from exitkit.providers.ec2 import Ec2Driver, Ec2Image, Ec2Instance, open_ec2

REGION = "eu-central-1"
CATALOG = load_catalog()
USD_EUR = CATALOG.fx.rates["USD"].eur
UBUNTU, MARKETPLACE, WINDOWS = ("ami-0a00000000000000a", "ami-0b00000000000000b",
                                "ami-0c00000000000000c")
MARKETPLACE_CODE = "8acfvh6bldsr1ojb0oe3n8je5"
SECRET_IN_USER_DATA = "hunter2-db-password"
USER_DATA = f"#!/bin/sh\nexport DB_PASSWORD={SECRET_IN_USER_DATA}\n".encode()
_IMAGE = {"description": "", "public": True, "virtualization_type": "hvm",
          "architecture": "x86_64", "state": "available", "image_type": "machine",
          "hypervisor": "xen", "root_device_type": "ebs", "root_device_name": "/dev/sda1",
          "sriov": "simple"}
AMIS = [
    {**_IMAGE, "ami_id": UBUNTU, "name": "ubuntu-24.04-amd64-server", "owner_id": "099720109477",
     "image_location": "canonical/ubuntu"},
    {**_IMAGE, "ami_id": MARKETPLACE, "name": "vendor-firewall-appliance",
     "owner_id": "679593333241", "image_location": "aws-marketplace/vendor",
     "product_codes": [{"ProductCodeId": MARKETPLACE_CODE, "ProductCodeType": "marketplace"}]},
    {**_IMAGE, "ami_id": WINDOWS, "name": "Windows_Server-2022-English-Full-Base",
     "owner_id": "801119661308", "platform": "windows", "image_location": "amazon/windows"},
]


@pytest.fixture(scope="module")
def ec2_moto(tmp_path_factory):
    """moto_server whose only public images are ours: Ubuntu, a Marketplace one, Windows."""
    amis = tmp_path_factory.mktemp("amis") / "amis.json"
    amis.write_text(json.dumps(AMIS))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_AMIS_PATH", str(amis))
        server = MotoServer()
        server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def estate(ec2_moto):
    """Instances in eu-central-1: seven in scope (Env=prod, live), one dev, one terminated."""
    ec2 = boto3.client("ec2", endpoint_url=ec2_moto.endpoint, region_name=REGION,
                       aws_access_key_id=ec2_moto.access_key,
                       aws_secret_access_key=ec2_moto.secret_key)

    def run(name, image, instance_type, env="prod", user_data=None, tags=()):
        tag_list = [{"Key": "Name", "Value": name}, {"Key": "Env", "Value": env},
                    *({"Key": key, "Value": value} for key, value in tags)]
        extra = {"UserData": user_data.decode()} if user_data else {}
        instance = ec2.run_instances(
            ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}], **extra,
        )["Instances"][0]
        return instance["InstanceId"], instance["Placement"]["AvailabilityZone"]

    def attach(instance, size, device, encrypted=False):
        instance_id, zone = instance
        volume = ec2.create_volume(Size=size, AvailabilityZone=zone, VolumeType="gp3",
                                   Encrypted=encrypted)
        ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance_id, Device=device)
        return volume["VolumeId"]

    ids = {"web-1": run("web-1", UBUNTU, "c5.large", user_data=USER_DATA)}
    own = ec2.create_image(InstanceId=ids["web-1"][0], Name="web-golden")["ImageId"]
    retired = ec2.create_image(InstanceId=ids["web-1"][0], Name="legacy-golden")["ImageId"]
    ids["app-1"] = run("app-1", own, "m5.large")
    ids["legacy-1"] = run("legacy-1", retired, "t3.large")
    ec2.deregister_image(ImageId=retired)
    ids["vendor-1"] = run("vendor-1", MARKETPLACE, "t3.micro")
    ids["win-1"] = run("win-1", WINDOWS, "r5.large")
    ids["gpu-1"] = run("gpu-1", UBUNTU, "g4dn.xlarge")
    ids["db-1"] = run("db-1", UBUNTU, "t3.medium",
                      tags=[("exitkit:managed-service", "rds-postgres, elasticache-redis")])
    ids["dev-1"] = run("dev-1", UBUNTU, "t3.small", env="dev")
    ids["gone-1"] = run("gone-1", UBUNTU, "t3.small")
    ec2.terminate_instances(InstanceIds=[ids["gone-1"][0]])
    volumes = {"app-1": attach(ids["app-1"], 200, "/dev/sdf"),
               "db-1": attach(ids["db-1"], 12_000, "/dev/sdf", encrypted=True)}
    return {"ids": {name: value[0] for name, value in ids.items()}, "own_image": own,
            "volumes": volumes}


@pytest.fixture
def keys(ec2_moto):
    return Keys(SecretStr(ec2_moto.access_key), SecretStr(ec2_moto.secret_key))


def section_data(endpoint, target="hetzner-fsn1", filters="{tag:Env: prod}"):
    """A ``vms`` section as a drill spec would hold it."""
    return yaml.safe_load(f"""
source:
  provider: aws-ec2
  endpoint: {endpoint}
  region: {REGION}
  credentials: {{access_key_env: EC2_KEY, secret_key_env: EC2_SECRET}}
target_catalog: {target}
filters: {filters}
""")


def section(*args, **kwargs):
    return VmSection.model_validate(section_data(*args, **kwargs))


def monthly(entry_name, size_name):
    """The monthly EUR price the catalog lists for one size (hourly x 730 or the cap)."""
    entry = CATALOG.get(entry_name)
    size = next(size for size in entry.compute_sizes if size.name == size_name)
    rate = USD_EUR if entry.currency == "USD" else 1.0
    month = size.price_month.price if size.price_month else size.price_hour.price * 730
    return month * rate


def test_the_adapter_finds_every_instance_on_moto(ec2_moto, estate):
    """libcloud's stock EC2 driver finds no instance on moto; the adapter's driver lists
    every one (whatever libcloud's own driver does)."""
    parts = urlsplit(ec2_moto.endpoint)
    args = (ec2_moto.access_key, ec2_moto.secret_key)
    options = {"secure": False, "host": parts.hostname, "port": parts.port, "region": REGION}
    found = {node.id for node in Ec2Driver(*args, **options).list_nodes()}
    assert found == set(estate["ids"].values())  # all nine, the terminated one too


def test_plan_sizes_prices_and_judges_every_vm(ec2_moto, estate, keys):
    plan = plan_vms(section(ec2_moto.endpoint), keys, CATALOG, date(2026, 11, 23))
    vms = {vm.name: vm for vm in plan.vms}
    assert set(vms) == {"web-1", "app-1", "legacy-1", "vendor-1", "win-1", "gpu-1", "db-1"}
    assert (plan.totals.vms, plan.totals.portable, plan.totals.blocked) == (7, 3, 4)
    assert {name for name, vm in vms.items() if vm.status == "portable"} == {
        "web-1", "app-1", "legacy-1"}
    assert (plan.source_catalog, plan.target_catalog) == ("aws-s3-eu-central-1", "hetzner-fsn1")

    nearest = {name: vm.target_size.name if vm.target_size else None for name, vm in vms.items()}
    assert nearest == {"web-1": "CX22", "app-1": "CCX13", "legacy-1": "CCX13",
                       "vendor-1": "CPX11", "win-1": "CCX23", "gpu-1": None, "db-1": "CX22"}
    web = vms["web-1"]
    assert (web.instance_type, web.vcpus, web.memory_gib, web.gpus) == ("c5.large", 2, 4, 0)
    assert web.source_size.price_month == pytest.approx(0.097 * 730)
    assert web.source_size.price_month_eur == pytest.approx(monthly("aws-s3-eu-central-1",
                                                                    "c5.large"))
    assert web.source_size.source == "https://aws.amazon.com/ec2/pricing/on-demand/"
    assert web.target_size.price_month_eur == pytest.approx(3.79)  # Hetzner's monthly cap
    assert web.target_size.price_hour == pytest.approx(0.006)
    compared = [vm for vm in plan.vms if vm.name != "gpu-1"]
    assert plan.totals.compared_vms == 6
    assert plan.totals.monthly_source_eur == pytest.approx(
        sum(monthly("aws-s3-eu-central-1", vm.instance_type) for vm in compared), abs=0.01)
    assert plan.totals.monthly_target_eur == pytest.approx(
        sum(monthly("hetzner-fsn1", vm.target_size.name) for vm in compared), abs=0.01)
    assert plan.exchange_rates == {"USD": CATALOG.fx.rates["USD"]}


def test_blockers_name_concrete_reasons(ec2_moto, estate, keys):
    vms = {vm.name: vm for vm in plan_vms(section(ec2_moto.endpoint), keys, CATALOG,
                                          date(2026, 11, 23)).vms}
    codes = {name: [blocker.code for blocker in vm.blockers] for name, vm in vms.items()}
    assert codes == {"web-1": [], "app-1": [], "legacy-1": [],
                     "vendor-1": ["image-not-exportable"], "win-1": ["image-not-exportable"],
                     "gpu-1": ["no-target-size"],
                     "db-1": ["encrypted-volume", "volume-too-large", "managed-service"]}
    vendor = vms["vendor-1"].image
    assert (vendor.exportable, vendor.product_codes) == (False, [MARKETPLACE_CODE])
    assert "Marketplace" in vendor.reason and MARKETPLACE_CODE in vendor.reason
    assert "Windows licensed through AWS" in vms["win-1"].image.reason
    assert vms["gpu-1"].blockers[0].detail == (
        "no size at hetzner-fsn1 has at least 4 vCPUs, 16 GiB and 1 GPU(s)")
    db = {blocker.code: blocker.detail for blocker in vms["db-1"].blockers}
    assert f"volume {estate['volumes']['db-1']} is 12000 GiB" in db["volume-too-large"]
    assert "10240 GiB" in db["volume-too-large"]
    assert "rds-postgres, elasticache-redis" in db["managed-service"]
    app = vms["app-1"].image
    assert (app.id, app.owner_id, app.exportable) == (estate["own_image"], "123456789012", True)
    assert vms["web-1"].image.owner_id == "099720109477" and vms["web-1"].image.exportable
    legacy = vms["legacy-1"].image
    assert legacy.exportable and "no longer described" in legacy.reason
    assert legacy.name is None


def test_a_gpu_vm_finds_a_gpu_size_where_the_target_has_one(ec2_moto, estate, keys):
    plan = plan_vms(section(ec2_moto.endpoint, target="scaleway-fr-par",
                            filters="{tag:Name: gpu-1}"), keys, CATALOG, date(2026, 11, 23))
    (gpu,) = plan.vms
    assert gpu.status == "portable" and gpu.target_size.name == "L4-1-24G"
    assert gpu.target_size.price_month_eur == pytest.approx(0.75 * 730)


def test_plan_holds_tags_volumes_and_a_user_data_digest_but_no_secret(ec2_moto, estate, keys):
    plan = plan_vms(section(ec2_moto.endpoint), keys, CATALOG, date(2026, 11, 23))
    vms = {vm.name: vm for vm in plan.vms}
    web = vms["web-1"]
    assert web.user_data.present and web.user_data.bytes == len(USER_DATA)
    assert web.user_data.sha256 == hashlib.sha256(USER_DATA).hexdigest()
    assert not vms["app-1"].user_data.present and vms["app-1"].user_data.sha256 is None
    assert web.tags == {"Name": "web-1", "Env": "prod"}
    assert vms["db-1"].tags["exitkit:managed-service"] == "rds-postgres, elasticache-redis"
    app_volumes = [(v.device, v.size_gib, v.encrypted) for v in vms["app-1"].volumes]
    assert app_volumes == [("/dev/sda1", 8, False), ("/dev/sdf", 200, False)]
    assert vms["app-1"].volumes[1].id == estate["volumes"]["app-1"]
    assert vms["app-1"].volumes[1].volume_type == "gp3"
    text = plan.model_dump_json()
    for secret in (SECRET_IN_USER_DATA, ec2_moto.secret_key, ec2_moto.access_key, "DB_PASSWORD"):
        assert secret not in text


def test_unreachable_endpoint_is_an_endpoint_error_naming_it(keys):
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EndpointError) as raised:
        open_ec2(endpoint, REGION, keys).instances({})
    message = str(raised.value)
    assert message.startswith(f"aws-ec2 {endpoint} ({REGION}): DescribeInstances:")
    assert keys.secret_key.get_secret_value() not in message


def test_vm_section_rejects_unknown_fields_and_other_providers():
    good = section_data("http://127.0.0.1:1")
    assert section("http://127.0.0.1:1").filters == {"tag:Env": "prod"}
    with pytest.raises(ValidationError):
        VmSection.model_validate({**good, "target": "hetzner-fsn1"})
    with pytest.raises(ValidationError):
        VmSection.model_validate({**good, "source": {**good["source"], "provider": "gce"}})


def entry(currency, sizes):
    return CatalogEntry.model_validate({
        "name": "test", "display_name": "Test", "provider": "test", "jurisdiction": "DE",
        "data_location": "DE", "currency": currency, "prices": {
            name: {"price": 0.0, "source": "s", "as_of": "2025-01-01"}
            for name in ("storage_gb_month", "put_per_1000", "get_per_1000")} | {
            "egress_gb": {"tiers": [{"price": 0.0}], "source": "s", "as_of": "2025-01-01"}},
        "compute_sizes": sizes})


def size(name, vcpus, memory, hour=None, month=None, gpus=0):
    prices = {"price_hour": {"price": hour, "source": "h", "as_of": "2025-01-01"}} if hour else {}
    if month:
        prices["price_month"] = {"price": month, "source": "m", "as_of": "2025-02-01"}
    return {"name": name, "vcpus": vcpus, "memory_gib": memory, "gpus": gpus, **prices}


def test_nearest_size_is_the_least_oversized_then_the_cheapest():
    catalog = entry("USD", [size("big", 8, 32, hour=0.10), size("wide", 4, 8, hour=0.05),
                            size("tall", 2, 16, hour=0.04), size("exact-dear", 2, 8, hour=0.09),
                            size("exact-cheap", 2, 8, hour=0.08),
                            size("gpu", 2, 8, hour=0.01, gpus=1)])
    found = nearest_size(catalog, 2, 8, fx=CATALOG.fx)
    assert found.name == "exact-cheap"                 # GPU sizes only for GPU workloads
    assert found.price_month == pytest.approx(0.08 * 730)
    assert found.price_month_eur == pytest.approx(0.08 * 730 * USD_EUR)
    assert (found.currency, found.source, str(found.as_of)) == ("USD", "h", "2025-01-01")
    assert nearest_size(catalog, 3, 8, fx=CATALOG.fx).name == "wide"  # 4/3 + 8/8 < 8/3 + 32/8
    assert nearest_size(catalog, 0.25, 0.5, fx=CATALOG.fx).name == "exact-cheap"
    assert nearest_size(catalog, 1, 8, gpus=1, fx=CATALOG.fx).name == "gpu"
    assert nearest_size(catalog, 16, 8, fx=CATALOG.fx) is None
    with pytest.raises(ValueError):
        nearest_size(catalog, 0, 8, fx=CATALOG.fx)


def test_a_monthly_price_is_used_as_published_and_hourly_derived_from_it():
    catalog = entry("EUR", [size("capped", 2, 4, hour=0.006, month=3.79),
                            size("monthly-only", 4, 8, month=73.0)])
    capped = nearest_size(catalog, 2, 4, fx=CATALOG.fx)
    assert (capped.price_hour, capped.price_month, capped.source) == (0.006, 3.79, "m")
    monthly_only = nearest_size(catalog, 4, 8, fx=CATALOG.fx)
    assert (monthly_only.price_hour, monthly_only.price_month_eur) == (0.1, 73.0)


@pytest.mark.parametrize(("platform", "details", "exportable"), [
    (None, "Linux/UNIX", True), (None, "Red Hat Enterprise Linux", False),
    ("windows", "Windows", False), ("windows", "Windows BYOL", True),
    (None, "Red Hat BYOL Linux", True), (None, "SUSE Linux", False),
])
def test_platform_details_from_aws_decide_the_licence(platform, details, exportable):
    """moto sends no platformDetails; AWS does, so the rule is checked on inventory data."""
    image = Ec2Image(id="ami-1", name="base", owner_id="309956199498", platform=platform,
                     platform_details=details, product_codes=())
    instance = Ec2Instance(
        id="i-1", name="vm", state="running", instance_type="m5.large", shape=None,
        architecture="x86_64", platform=platform, platform_details=details, product_codes=(),
        image_id="ami-1", image=image, tags={}, user_data=None, volumes=())
    judged = image_plan(instance)
    assert judged.exportable is exportable
    assert exportable or f"{details} licensed through AWS" in judged.reason
