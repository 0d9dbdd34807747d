"""Managed services and registry images of the source account, and their replacements.

Found through the provider's own APIs (boto3: libcloud has no driver for RDS, SQS,
Lambda, KMS, DynamoDB or ECR) or read from a state file (:mod:`exitkit.assess.state_file`).
Each managed service gets the replacement options of its kind from the catalog's
replacement table, or "no known replacement".
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exitkit.assess.model import Asset, Finding, Replacement, SizeMeasure, SkippedResource
from exitkit.assess.rules import UNUSABLE_KEY_STATES, verdict_of
from exitkit.catalog.model import Replacements

GIB = 2**30
UNSIZED = SizeMeasure(method="unknown", exact=False, caveat="the service reports no size "
                                                            "of the data it holds")
#: RDS engine prefix -> replacement-table kind
ENGINE_KINDS = {"aurora-postgresql": "postgres", "postgres": "postgres",
                "aurora-mysql": "mysql", "aurora": "mysql", "mysql": "mysql",
                "mariadb": "mysql", "oracle": "oracle", "sqlserver": "sqlserver"}


@dataclass
class FoundService:
    """A managed service instance, before it is judged."""

    kind: str
    service: str
    name: str
    region: str | None
    found_by: str
    size: SizeMeasure = field(default_factory=lambda: UNSIZED)
    settings: dict[str, Any] = field(default_factory=dict)


def engine_kind(engine: str) -> str:
    """The replacement-table kind of an RDS *engine* (``oracle-ee`` -> ``oracle``)."""
    for prefix, kind in ENGINE_KINDS.items():
        if engine == prefix or engine.startswith(prefix + "-"):
            return kind
    return engine


def provisioned(gib: float, what: str) -> SizeMeasure:
    """A size read from provisioned capacity: an upper bound on the data held."""
    return SizeMeasure(bytes=int(gib * GIB), method="provisioned", exact=False,
                       caveat=f"{what}: provisioned capacity, not data held (at most this)")


def service_asset(found: FoundService, table: Replacements) -> Asset:
    """*found* as an asset, judged by whether its kind has a known replacement."""
    entry = table.services.get(found.kind)
    options = [Replacement(name=o.name, kind=o.kind, operator=o.operator,
                           jurisdiction=o.jurisdiction, source=o.source, as_of=o.as_of)
               for o in (entry.replacements if entry else [])]
    what = f"{found.service} ({entry.display_name})" if entry else found.service
    notes = f" ({entry.notes})" if entry and entry.notes else ""
    findings = []
    if found.kind == "kms" and found.settings.get("state") in UNUSABLE_KEY_STATES:
        findings.append(Finding(code="kms-key-unusable", severity="high", verdict="blocked",
                                detail=f"the key is {found.settings['state']}: data encrypted "
                                       f"under it cannot be decrypted, so it cannot leave; "
                                       f"enable it (or cancel its deletion) for the exit"))
    if options:
        finding = Finding(code="managed-service", severity="high", verdict="needs work",
                          detail=f"proprietary {what}: move to one of "
                                 f"{', '.join(o.name for o in options)}, and migrate its "
                                 f"data and clients{notes}")
    else:
        finding = Finding(code="no-known-replacement", severity="high", verdict="blocked",
                          detail=f"proprietary {what}: no known replacement in the "
                                 f"catalog's table{notes}; plan a re-design or add an option "
                                 f"to providers/replacements.yaml")
    findings.append(finding)
    return Asset(id=f"{found.service}:{found.name}", kind="managed service", name=found.name,
                 region=found.region, found_by=found.found_by, size=found.size,
                 settings={"service": found.service, "kind": found.kind, **found.settings},
                 findings=findings, verdict=verdict_of(findings), replacements=options)


class AccountServices:
    """Reads the managed services of one account and region through boto3 clients made by
    *client* (a service name -> client factory); what cannot be read is *skipped*."""

    def __init__(self, client: Callable[[str], Any], region: str) -> None:
        self.client, self.region = client, region
        self.skipped: list[SkippedResource] = []

    def _call(self, service: str, read: Callable[[Any], list[FoundService]]
              ) -> list[FoundService]:
        try:
            return read(self.client(service))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            self.skipped.append(SkippedResource(kind=service, name="*", reason=(
                f"{service} could not be read ({code}); its resources are not assessed")))
        except BotoCoreError as exc:
            self.skipped.append(SkippedResource(kind=service, name="*", reason=(
                f"{service} could not be reached ({type(exc).__name__})")))
        return []

    def all(self) -> list[FoundService]:
        """Databases, queues, functions, tables and keys, in that order."""
        return [*self._call("rds", self._databases), *self._call("sqs", self._queues),
                *self._call("lambda", self._functions),
                *self._call("dynamodb", self._tables), *self._call("kms", self._keys)]

    def _databases(self, rds) -> list[FoundService]:
        return [FoundService(
            kind=engine_kind(db["Engine"]), service=f"rds-{db['Engine']}",
            name=db["DBInstanceIdentifier"], region=self.region, found_by="api",
            size=provisioned(db.get("AllocatedStorage", 0), "AllocatedStorage"),
            settings={"engine_version": db.get("EngineVersion"),
                      "instance_class": db.get("DBInstanceClass"),
                      "encrypted": bool(db.get("StorageEncrypted"))})
            for page in rds.get_paginator("describe_db_instances").paginate()
            for db in page["DBInstances"]]

    def _queues(self, sqs) -> list[FoundService]:
        return [FoundService(kind="queue", service="sqs", name=url.rsplit("/", 1)[-1],
                             region=self.region, found_by="api")
                for page in sqs.get_paginator("list_queues").paginate()
                for url in page.get("QueueUrls", [])]

    def _functions(self, lam) -> list[FoundService]:
        return [FoundService(
            kind="function", service="lambda", name=fn["FunctionName"], region=self.region,
            found_by="api", size=SizeMeasure(bytes=fn.get("CodeSize", 0), method="listing",
                                             exact=True, caveat="deployment package size "
                                             "(ListFunctions CodeSize)"),
            settings={"runtime": fn.get("Runtime")})
            for page in lam.get_paginator("list_functions").paginate()
            for fn in page["Functions"]]

    def _tables(self, dynamodb) -> list[FoundService]:
        found = []
        for page in dynamodb.get_paginator("list_tables").paginate():
            for name in page.get("TableNames", []):
                table = dynamodb.describe_table(TableName=name)["Table"]
                found.append(FoundService(
                    kind="dynamodb", service="dynamodb", name=name, region=self.region,
                    found_by="api", size=SizeMeasure(
                        objects=table.get("ItemCount"), bytes=table.get("TableSizeBytes"),
                        method="listing", exact=False, caveat="DescribeTable's ItemCount and "
                        "TableSizeBytes, which DynamoDB updates about every six hours")))
        return found

    def _keys(self, kms) -> list[FoundService]:
        found = []
        for page in kms.get_paginator("list_keys").paginate():
            for key in page["Keys"]:
                meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
                if meta.get("KeyManager") == "AWS":
                    continue  # AWS managed keys (aws/s3, ...) go with their services
                found.append(FoundService(
                    kind="kms", service="kms", name=key["KeyId"], region=self.region,
                    found_by="api", settings={"state": meta.get("KeyState"),
                                              "origin": meta.get("Origin"),
                                              "description": meta.get("Description", "")}))
        return found


def registry_images(ecr, region: str, skipped: list[SkippedResource]
                    ) -> tuple[list[Asset], list[FoundService]]:
    """Every image in the account's ECR registry as a portable asset (an OCI copy with
    skopeo keeps its digest), and the registry itself as a managed service to replace when
    it holds repositories; a registry that cannot be read is added to *skipped*."""
    try:
        repositories = [repo for page in ecr.get_paginator("describe_repositories").paginate()
                        for repo in page["repositories"]]
        images = [(repo, image) for repo in repositories
                  for page in ecr.get_paginator("describe_images").paginate(
                      repositoryName=repo["repositoryName"])
                  for image in page["imageDetails"]]
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "error") \
            if isinstance(exc, ClientError) else type(exc).__name__
        skipped.append(SkippedResource(kind="ecr", name="*", reason=(
            f"the registry could not be read ({code}); its images are not assessed")))
        return [], []
    assets = []
    for repo, image in images:
        name = f"{repo['repositoryName']}@{image['imageDigest']}"
        tags = sorted(image.get("imageTags", []))
        assets.append(Asset(
            id=f"ecr:{name}", kind="image", name=name, region=region, found_by="api",
            size=SizeMeasure(bytes=image.get("imageSizeInBytes", 0), method="listing",
                             exact=False, caveat="DescribeImages' imageSizeInBytes: "
                             "compressed layers; layers shared with other images are "
                             "counted for each"),
            settings={"repository": repo["repositoryName"], "tags": tags,
                      "tag_mutability": repo.get("imageTagMutability"),
                      "media_type": image.get("imageManifestMediaType")},
            findings=[Finding(code="oci-copy", severity="info", verdict="portable", detail=(
                "an OCI image: copy it to the target registry with skopeo (digest kept); "
                "a workload drill proves it runs"))],
            verdict="portable"))
    registries = sorted({repo.get("registryId", "") for repo in repositories})
    return assets, [FoundService(kind="registry", service="ecr", name=registry or "default",
                                 region=region, found_by="api",
                                 settings={"repositories": sum(
                                     repo.get("registryId", "") == registry
                                     for repo in repositories)})
                    for registry in registries]
