"""Every adapter the contract suite (tests/test_contract.py) runs against, one factory each.

A factory takes the pytest request (to start, through a session fixture, the server it
needs) and a fresh bucket name, and returns a :class:`ContractAdapter`: a writable store on
that bucket, created and empty, and the read-only source the registry opens on the same
bucket (versioned where the adapter declares versioning). To put a new adapter under
contract, write its factory and add it to :data:`ADAPTERS`; the suite's promises then run
against it unchanged.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from exitkit.drill.spec import Credentials, Endpoint, RcloneRemote, TargetEndpoint
from exitkit.drill.spec_file import Keys
from exitkit.providers.contract import Conformance, ObjectSource, ObjectTarget
from exitkit.providers.registry import open_source, open_target

MIB = 1024 * 1024
#: Credentials are handed to the registry resolved; the spec only names variables.
UNUSED_CREDENTIALS = Credentials(access_key_env="UNUSED_KEY", secret_key_env="UNUSED_SECRET")


@dataclass
class ContractAdapter:
    """One adapter under contract: a prepared, empty target bucket and the source view of
    the same bucket, with the conformance its class states for this provider kind."""

    provider: str
    target: ObjectTarget
    source: ObjectSource

    @property
    def conformance(self) -> Conformance:
        """What the adapter's class states for this provider kind."""
        return type(self.target).conformance[self.provider]


Factory = Callable[[pytest.FixtureRequest, str], ContractAdapter]


def _opened(provider: str, keys: Keys | None, bucket: str, **endpoint) -> ContractAdapter:
    target = open_target(TargetEndpoint(provider=provider, bucket=bucket, **endpoint), keys,
                         part_size=5 * MIB)
    target.prepare(create=True, versioned=target.capabilities.versioning)
    source = open_source(Endpoint(provider=provider, bucket=bucket, **endpoint), keys)
    return ContractAdapter(provider, target, source)


def _s3_server(request: pytest.FixtureRequest, fixture: str, provider: str,
               bucket: str) -> ContractAdapter:
    server = request.getfixturevalue(fixture)
    keys = Keys(SecretStr(server.access_key), SecretStr(server.secret_key))
    return _opened(provider, keys, bucket, endpoint=server.endpoint, region="us-east-1",
                   credentials=UNUSED_CREDENTIALS)


def s3_on_moto(request: pytest.FixtureRequest, bucket: str) -> ContractAdapter:
    """The S3 adapter with the aws-s3 profile, on moto_server."""
    return _s3_server(request, "moto", "aws-s3", bucket)


def s3_on_seaweedfs(request: pytest.FixtureRequest, bucket: str) -> ContractAdapter:
    """The S3 adapter with the seaweedfs profile, on SeaweedFS."""
    return _s3_server(request, "seaweed", "seaweedfs", bucket)


def local_directory(request: pytest.FixtureRequest, bucket: str) -> ContractAdapter:
    """The local directory adapter, in a temporary directory."""
    base = request.getfixturevalue("tmp_path_factory").mktemp("contract-local")
    return _opened("local", None, bucket, path=str(base))


def gcs_on_emulator(request: pytest.FixtureRequest, bucket: str) -> ContractAdapter:
    """The GCS adapter on gcp-storage-emulator (anonymous, as the emulator takes it)."""
    server = request.getfixturevalue("gcs_emulator")
    return _opened("gcs", None, bucket, endpoint=server.endpoint)


def rclone_sftp_remote(request: pytest.FixtureRequest, bucket: str) -> ContractAdapter:
    """The rclone adapter on an SFTP remote (``rclone serve sftp``), password by variable."""
    server = request.getfixturevalue("rclone_sftp")
    remote = RcloneRemote(type="sftp", parameters={"host": "127.0.0.1", "port": str(server.port),
                                                   "user": server.user},
                          secret_env={"pass": "UNUSED_SFTP_PASS"})
    keys = Keys(secrets={"pass": SecretStr(server.password)})
    return _opened("rclone", keys, bucket, rclone=remote)


def azure_on_azurite(request: pytest.FixtureRequest, bucket: str) -> ContractAdapter:
    """The Azure Blob adapter on Azurite, with the account key."""
    server = request.getfixturevalue("azurite")
    keys = Keys(SecretStr(server.account), SecretStr(server.account_key))
    return _opened("azure-blob", keys, bucket, endpoint=server.blob_endpoint,
                   credentials=UNUSED_CREDENTIALS)


#: Every adapter under contract, by the name the suite's test ids show.
ADAPTERS: dict[str, Factory] = {
    "s3-moto": s3_on_moto,
    "s3-seaweedfs": s3_on_seaweedfs,
    "local": local_directory,
    "gcs-emulator": gcs_on_emulator,
    "rclone-sftp": rclone_sftp_remote,
    "azure-azurite": azure_on_azurite,
}
