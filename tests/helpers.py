"""Helpers for the tests: read whole buckets with an independent client."""

import subprocess
import sys
from urllib.parse import urlsplit

from minio import Minio


def minio_client(server) -> Minio:
    """A MinIO SDK client for an embedded server: an independent reader of what was written."""
    return Minio(urlsplit(server.endpoint).netloc, access_key=server.access_key,
                 secret_key=server.secret_key, secure=False, region="us-east-1")


def bucket_contents(client: Minio, bucket: str, prefix: str = "") -> dict[str, dict]:
    """Every object under *prefix*: body, content-type and user metadata, by key."""
    contents = {}
    for item in client.list_objects(bucket, prefix=prefix or None, recursive=True):
        response = client.get_object(bucket, item.object_name)
        try:
            body = response.read()
            headers = response.headers
        finally:
            response.close()
            response.release_conn()
        contents[item.object_name] = {
            "body": body,
            "content_type": headers.get("Content-Type"),
            "metadata": {name[len("x-amz-meta-"):].lower(): value for name, value in headers.items()
                         if name.lower().startswith("x-amz-meta-")},
        }
    return contents


def exitkit(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    """Run the ``exitkit`` command in a child process and capture its output."""
    return subprocess.run([sys.executable, "-m", "exitkit", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)
