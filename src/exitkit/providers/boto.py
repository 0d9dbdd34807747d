"""boto3 S3 clients, for what libcloud lacks (Object Lock on the evidence store) and for
seeding and inspecting the embedded servers."""

import boto3
from botocore.config import Config


def s3_client(endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1"):
    """A path-style boto3 S3 client that sends checksums only when an API requires them.

    boto3 >= 1.36 otherwise sends aws-chunked bodies with checksum trailers, which some
    S3-compatible servers store inside the object.
    """
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, region_name=region, config=config)
