"""Shared fixtures: real loopback servers (moto_server as source, SeaweedFS as target)."""

import itertools
import os
from pathlib import Path

import pytest

from exitkit.providers.boto import s3_client
from exitkit.embedded.servers import MotoServer, SeaweedServer

_names = itertools.count()


@pytest.fixture(scope="session")
def moto():
    """An AWS-compatible source server for the whole session."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def seaweed():
    """A self-hosted SeaweedFS S3 target for the whole session."""
    with SeaweedServer() as server:
        yield server


@pytest.fixture
def source_client(moto):
    """boto3 client for the source server."""
    return s3_client(moto.endpoint, moto.access_key, moto.secret_key)


@pytest.fixture
def target_client(seaweed):
    """boto3 client for the target server."""
    return s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)


@pytest.fixture
def bucket_name():
    """A fresh bucket name per call."""
    return lambda role: f"t{os.getpid()}-{next(_names)}-{role}"


@pytest.fixture
def server_env(moto, seaweed):
    """Environment variables the test specs read for endpoints and credentials."""
    return {
        **os.environ,
        "SRC_ENDPOINT": moto.endpoint, "SRC_KEY": moto.access_key, "SRC_SECRET": moto.secret_key,
        "TGT_ENDPOINT": seaweed.endpoint, "TGT_KEY": seaweed.access_key,
        "TGT_SECRET": seaweed.secret_key,
    }


SPEC_TEMPLATE = """\
version: 1
name: {name}
description: test drill
source:
  provider: aws-s3
  endpoint: ${{SRC_ENDPOINT}}
  region: us-east-1
  bucket: {source_bucket}
  prefix: "{source_prefix}"
  credentials:
    access_key_env: SRC_KEY
    secret_key_env: SRC_SECRET
target:
{target}
options:
  concurrency: 4
  part_size: 5MiB
  max_retries: 2
expectations:
  completeness: 100%
  max_duration: 10m
{extra}"""

SEAWEED_TARGET = """\
  provider: seaweedfs
  endpoint: ${{TGT_ENDPOINT}}
  bucket: {bucket}
  prefix: "{prefix}"
  create_bucket: true
  credentials:
    access_key_env: TGT_KEY
    secret_key_env: TGT_SECRET"""


@pytest.fixture
def write_spec(tmp_path):
    """Write a drill spec from the template and return its path."""

    def write(source_bucket: str, target_bucket: str = "", name: str = "test-drill",
              source_prefix: str = "", target_prefix: str = "", target: str | None = None,
              filename: str = "drill.yaml", extra: str = "", part_size: str = "5MiB") -> Path:
        target_block = target or SEAWEED_TARGET.format(bucket=target_bucket, prefix=target_prefix)
        path = tmp_path / filename
        path.write_text(SPEC_TEMPLATE.format(
            name=name, source_bucket=source_bucket, source_prefix=source_prefix,
            target=target_block, extra=extra).replace("part_size: 5MiB",
                                                      f"part_size: {part_size}"),
            encoding="utf-8")
        return path

    return write
