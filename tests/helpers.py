"""Helpers for the tests: read whole buckets through boto3."""


def bucket_contents(client, bucket: str, prefix: str = "") -> dict[str, dict]:
    """Every object under *prefix*: body, content-type and user metadata, by key."""
    contents = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            got = client.get_object(Bucket=bucket, Key=item["Key"])
            contents[item["Key"]] = {"body": got["Body"].read(),
                                     "content_type": got["ContentType"],
                                     "metadata": got["Metadata"]}
    return contents
