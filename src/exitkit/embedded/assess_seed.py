"""Seed an AWS-compatible account (moto_server) with a varied estate for ``exitkit assess``:
buckets configured as real estates configure them (website, archive, SSE-KMS with a usable
and an unusable key, Object Lock in both modes, versions, replication, notifications, an
inventory report), EC2 instances, registry images and managed services; and a Terraform
state describing what lives outside the account. Shared by ``exitkit demo --assess`` and
the tests, which derive every expected figure from the same tables.
"""

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from exitkit.embedded.servers import MotoServer
from exitkit.providers.boto import s3_client

REGION = "eu-central-1"
INVENTORY_BUCKET = "estate-inventory-reports"
INVENTORY_DATE = "2026-11-30T01-00Z"
#: prefixes and size ranges objects are drawn from
SHAPES = (("logs/", 0, 4096), ("img/", 1024, 65536), ("reports/2026/", 200, 20000),
          ("db-dumps/", 30000, 90000))


@dataclass(frozen=True)
class BucketPlan:
    """One bucket of the seeded estate: its configuration and what it holds.

    ``expected`` is the verdict the assessment must reach against a target without Object
    Lock (``ionos-eu-central-3``)."""

    name: str
    objects: int
    expected: str
    classes: tuple[tuple[str, int], ...] = ()
    settings: tuple[str, ...] = ()
    versions: int = 0
    inventoried: bool = False


#: the account's buckets; ``settings`` name what :func:`_seed_bucket` and :func:`_configure`
#: set up (website, cors, public, lifecycle, kms, kms-disabled, lock-compliance,
#: lock-governance, versioning, notifications, replication, sse-s3, tags)
BUCKETS = (
    BucketPlan("estate-web-assets", 14, "needs work", settings=("website", "cors", "public")),
    BucketPlan("estate-finance-archive", 9, "needs work",
               classes=(("GLACIER", 4), ("DEEP_ARCHIVE", 3)), settings=("lifecycle",)),
    BucketPlan("estate-customer-records", 8, "blocked", settings=("kms-disabled",)),
    BucketPlan("estate-app-data", 11, "needs work", settings=("kms",)),
    BucketPlan("estate-legal-compliance", 6, "blocked", settings=("lock-compliance",)),
    BucketPlan("estate-audit-governance", 5, "needs work", settings=("lock-governance",)),
    BucketPlan("estate-user-uploads", 7, "needs work", versions=3,
               settings=("versioning", "notifications")),
    BucketPlan("estate-replicated-logs", 10, "needs work",
               settings=("versioning", "replication")),
    BucketPlan("estate-data-lake", 0, "needs work", inventoried=True),
    BucketPlan(INVENTORY_BUCKET, 0, "portable"),
    BucketPlan("estate-plain-backups", 12, "needs work", settings=("sse-s3", "tags")),
    BucketPlan("estate-static-exports", 9, "portable", settings=("tags",)),
)
#: (name, AMI kind, instance type, encrypted data volume GiB or 0, tags) of the EC2 estate
INSTANCES = (
    ("web-1", "linux", "t3.medium", 0, {}),
    ("db-1", "linux", "m5.large", 200, {}),
    ("win-app-1", "windows", "t3.large", 0, {}),
    ("batch-1", "linux", "c5.large", 0, {"exitkit:managed-service": "sqs"}),
)
_IMAGE = {"description": "", "public": True, "virtualization_type": "hvm",
          "architecture": "x86_64", "state": "available", "image_type": "machine",
          "hypervisor": "xen", "root_device_type": "ebs", "root_device_name": "/dev/sda1",
          "sriov": "simple"}
#: the public images the seeded instances start from (moto's MOTO_AMIS_PATH format)
AMIS = (
    {**_IMAGE, "ami_id": "ami-0e57a0000000000a1", "name": "debian-12-amd64",
     "owner_id": "136693071363", "image_location": "debian/debian-12"},
    {**_IMAGE, "ami_id": "ami-0e57a0000000000b2", "name": "Windows_Server-2022-English-Full-Base",
     "owner_id": "801119661308", "platform": "windows", "image_location": "amazon/windows"},
)
#: (repository, tags, layer sizes) of the registry
IMAGES = (("shop/web", ("1.4.2", "latest"), (31_000_000, 4_200_000)),
          ("shop/worker", ("2.0.0",), (52_000_000,)))
#: (identifier, engine) of the databases
DATABASES = (("orders", "postgres"), ("billing-legacy", "oracle-ee"))
QUEUES = ("estate-jobs", "estate-thumbnails")
FUNCTIONS = ("estate-thumbnailer",)
TABLES = ("estate-sessions",)


def seeded_objects(plan: BucketPlan, seed: int = 19) -> list[tuple[str, bytes, str | None]]:
    """(key, body, storage class) of *plan*'s current objects, drawn from :data:`SHAPES`."""
    rng = random.Random(f"{seed}/{plan.name}")
    classes = [name for name, count in plan.classes for _ in range(count)]
    objects = []
    for number in range(plan.objects):
        prefix, low, high = SHAPES[number % len(SHAPES)]
        storage_class = classes[number] if number < len(classes) else None
        objects.append((f"{prefix}{plan.name[7:]}-{number:03d}.bin",
                        rng.randbytes(rng.randint(low, high)), storage_class))
    return objects


def inventory_rows(seed: int = 19) -> list[tuple[str, str, int, str]]:
    """The data lake's inventory report: (bucket, key, size, storage class) rows for a
    bucket far larger than the demo stores."""
    rng = random.Random(f"{seed}/inventory")
    classes = ("STANDARD", "STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING")
    return [("estate-data-lake", f"parquet/part-{n:05d}.parquet", rng.randint(2**20, 2**27),
             classes[n % len(classes)]) for n in range(400)]


def _clients(endpoint: str, access_key: str, secret_key: str) -> dict[str, Any]:
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=access_key,
              aws_secret_access_key=secret_key)
    clients = {name: boto3.client(name, **kw) for name in (
        "kms", "ec2", "ecr", "rds", "sqs", "lambda", "iam", "dynamodb")}
    clients["s3"] = s3_client(endpoint, access_key, secret_key, REGION)
    return clients


def seed_estate(endpoint: str, access_key: str, secret_key: str) -> dict[str, Any]:
    """Create the whole estate on the server at *endpoint*; returns the ids tests need
    (KMS keys, instance ids by name)."""
    c = _clients(endpoint, access_key, secret_key)
    ids: dict[str, Any] = {"keys": {}, "instances": {}}
    usable = c["kms"].create_key(Description="estate app data")["KeyMetadata"]["KeyId"]
    retired = c["kms"].create_key(Description="estate customer records (retired)")[
        "KeyMetadata"]["KeyId"]
    ids["keys"] = {"usable": usable, "disabled": retired}
    queue_arns = {}
    for queue in QUEUES:
        url = c["sqs"].create_queue(QueueName=queue)["QueueUrl"]
        queue_arns[queue] = c["sqs"].get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for plan in BUCKETS:
        _seed_bucket(c["s3"], plan, ids["keys"], queue_arns)
    c["kms"].disable_key(KeyId=retired)  # after its bucket's objects were written
    _seed_inventory(c["s3"])
    ids["instances"] = _seed_instances(c["ec2"])
    _seed_registry(c["ecr"])
    for identifier, engine in DATABASES:
        c["rds"].create_db_instance(DBInstanceIdentifier=identifier, Engine=engine,
                                    DBInstanceClass="db.t3.medium", AllocatedStorage=50,
                                    MasterUsername="estate", MasterUserPassword="x" * 16)
    role = c["iam"].create_role(RoleName="estate-lambda", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    for function in FUNCTIONS:
        c["lambda"].create_function(FunctionName=function, Runtime="python3.12", Role=role,
                                    Handler="handler.handle",
                                    Code={"ZipFile": package.getvalue()})
    for table in TABLES:
        c["dynamodb"].create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                   KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "id",
                                                          "AttributeType": "S"}])
    return ids


def _seed_bucket(s3, plan: BucketPlan, keys: dict[str, str], queues: dict[str, str]) -> None:
    settings = set(plan.settings)
    lock = settings & {"lock-compliance", "lock-governance"}
    s3.create_bucket(Bucket=plan.name, ObjectLockEnabledForBucket=bool(lock),
                     CreateBucketConfiguration={"LocationConstraint": REGION})
    if "versioning" in settings:
        s3.put_bucket_versioning(Bucket=plan.name,
                                 VersioningConfiguration={"Status": "Enabled"})
    if lock:
        mode, days = ("COMPLIANCE", 3650) if "lock-compliance" in lock else ("GOVERNANCE", 30)
        s3.put_object_lock_configuration(Bucket=plan.name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}}})
    encryption = ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["disabled"]}
                  if "kms-disabled" in settings else
                  {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["usable"]}
                  if "kms" in settings else {"SSEAlgorithm": "AES256"}
                  if "sse-s3" in settings else None)
    if encryption:
        s3.put_bucket_encryption(Bucket=plan.name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": encryption}]})
    for key, body, storage_class in seeded_objects(plan):
        extra = {"StorageClass": storage_class} if storage_class else {}
        s3.put_object(Bucket=plan.name, Key=key, Body=body, ContentMD5=_md5(body), **extra)
    for key, _body, _class in seeded_objects(plan)[:plan.versions]:
        s3.put_object(Bucket=plan.name, Key=key, Body=b"superseded " + key.encode())
    _configure(s3, plan.name, settings, queues)


def _md5(body: bytes) -> str:
    """Content-MD5, which S3 requires of writes into an Object Lock bucket."""
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _configure(s3, bucket: str, settings: set[str], queues: dict[str, str]) -> None:
    """The bucket-level settings that do not affect how objects are written."""
    if "website" in settings:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"}})
    if "cors" in settings:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": ["https://shop.example"]}]})
    if "public" in settings:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/deploy"},
                 "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    if "lifecycle" in settings:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "to-glacier", "Status": "Enabled", "Filter": {"Prefix": ""},
             "Transitions": [{"Days": 90, "StorageClass": "GLACIER"},
                             {"Days": 365, "StorageClass": "DEEP_ARCHIVE"}]}]})
    if "notifications" in settings:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queues["estate-thumbnails"],
                                     "Events": ["s3:ObjectCreated:*"]}]})
    if "replication" in settings:
        replica = f"{bucket}-replica"
        s3.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [{"ID": "all", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
                       "DeleteMarkerReplication": {"Status": "Disabled"},
                       "Destination": {"Bucket": f"arn:aws:s3:::{replica}"}}]})
    if "tags" in settings:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
            {"Key": "team", "Value": "platform"}, {"Key": "backup", "Value": "nightly"}]})


def _seed_inventory(s3) -> None:
    """The data lake's inventory configuration and a report delivered as S3 Inventory lays
    it out: ``<prefix>/<bucket>/<id>/<date>/manifest.json`` and gzipped CSV data."""
    s3.put_bucket_inventory_configuration(
        Bucket="estate-data-lake", Id="daily", InventoryConfiguration={
            "Id": "daily", "IsEnabled": True, "IncludedObjectVersions": "Current",
            "Schedule": {"Frequency": "Daily"}, "OptionalFields": ["Size", "StorageClass"],
            "Destination": {"S3BucketDestination": {
                "Bucket": f"arn:aws:s3:::{INVENTORY_BUCKET}", "Format": "CSV",
                "Prefix": "inventory"}}})
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL).writerows(inventory_rows())
    base = f"inventory/estate-data-lake/daily/{INVENTORY_DATE}"
    data_key = "inventory/estate-data-lake/daily/data/part-0.csv.gz"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=data_key,
                  Body=gzip.compress(buffer.getvalue().encode()))
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=f"{base}/manifest.json", Body=json.dumps({
        "sourceBucket": "estate-data-lake", "destinationBucket":
        f"arn:aws:s3:::{INVENTORY_BUCKET}", "version": "2016-11-30", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, StorageClass",
        "files": [{"key": data_key, "size": 0, "MD5checksum": ""}]}).encode())


class EstateMotoServer(MotoServer):
    """moto_server whose only public images are :data:`AMIS` (moto's own list of
    thousands takes seconds to load), written to *workdir*."""

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.amis = Path(workdir) / "estate-amis.json"
        self.amis.parent.mkdir(parents=True, exist_ok=True)
        self.amis.write_text(json.dumps(AMIS), encoding="utf-8")

    def environment(self) -> dict[str, str]:
        return {**os.environ, "MOTO_AMIS_PATH": str(self.amis)}


def _seed_instances(ec2) -> dict[str, str]:
    amis = {kind: next(ami["ami_id"] for ami in AMIS if ami.get("platform", "linux") == kind)
            for kind in ("linux", "windows")}
    ids = {}
    for name, ami, instance_type, encrypted_gib, tags in INSTANCES:
        tag_list = [{"Key": "Name", "Value": name}, *({"Key": k, "Value": v}
                                                      for k, v in tags.items())]
        instance = ec2.run_instances(ImageId=amis[ami], InstanceType=instance_type, MinCount=1,
                                     MaxCount=1, TagSpecifications=[
                                         {"ResourceType": "instance", "Tags": tag_list}],
                                     )["Instances"][0]
        ids[name] = instance["InstanceId"]
        if encrypted_gib:
            volume = ec2.create_volume(Size=encrypted_gib, VolumeType="gp3", Encrypted=True,
                                       AvailabilityZone=instance["Placement"]["AvailabilityZone"])
            ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=ids[name],
                              Device="/dev/sdf")
    return ids


def _seed_registry(ecr) -> None:
    for repository, tags, layers in IMAGES:
        ecr.create_repository(repositoryName=repository)
        for number, tag in enumerate(tags):
            manifest = {"schemaVersion": 2, "mediaType":
                        "application/vnd.docker.distribution.manifest.v2+json",
                        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                   "size": 1500 + number, "digest": "sha256:" + f"{number:x}" * 64},
                        "layers": [{"mediaType":
                                    "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                    "size": size, "digest": "sha256:" + f"{index + 10:x}" * 32}
                                   for index, size in enumerate(layers)]}
            ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest),
                          imageTag=tag)


#: the part of the estate outside the account, as a Terraform state describes it:
#: (resource type, name, attributes)
STATE_RESOURCES = (
    ("aws_s3_bucket", "shared_datasets", {"bucket": "estate-shared-datasets",
                                          "region": REGION}),
    ("aws_s3_bucket_request_payment_configuration", "shared_datasets",
     {"bucket": "estate-shared-datasets", "payer": "Requester"}),
    ("aws_s3_bucket_object_lock_configuration", "shared_datasets",
     {"bucket": "estate-shared-datasets",
      "rule": [{"default_retention": [{"mode": "COMPLIANCE", "days": 365}]}]}),
    ("aws_elasticache_cluster", "cache", {"cluster_id": "estate-cache", "engine": "redis",
                                          "name": "estate-cache"}),
    ("aws_kinesis_stream", "clicks", {"name": "estate-clickstream"}),
    ("aws_iam_role", "deploy", {"name": "deploy"}),
    ("aws_cloudfront_distribution", "cdn", {"id": "E2EXAMPLE"}),
)


def state_document(resources=STATE_RESOURCES, data_sources: int = 1) -> dict[str, Any]:
    """A Terraform state (format 4) holding *resources* and *data_sources* data sources."""
    provider = 'provider["registry.terraform.io/hashicorp/aws"]'
    return {"version": 4, "terraform_version": "1.9.8", "serial": 12, "lineage": "estate",
            "outputs": {}, "resources": [
                *({"mode": "managed", "type": kind, "name": name, "provider": provider,
                   "instances": [{"schema_version": 0, "attributes": attributes}]}
                  for kind, name, attributes in resources),
                *({"mode": "data", "type": "aws_caller_identity", "name": f"current{n}",
                   "provider": provider, "instances": [{"attributes": {"id": "123456789012"}}]}
                  for n in range(data_sources))]}
