"""Helpers for the tests: read whole buckets with an independent client."""

import hashlib
import subprocess
import sys
import threading
from urllib.parse import urlsplit

from minio import Minio

from exitkit.drill.events import SilentObserver

#: The head of a drill spec reading bucket ``{source}`` on the ``moto`` fixture (to format
#: with ``name`` and ``source``; the ``SRC_*`` variables name the endpoint and keys).
S3_SOURCE_SPEC = """\
version: 1
name: {name}
source:
  provider: aws-s3
  endpoint: ${{SRC_ENDPOINT}}
  region: us-east-1
  bucket: {source}
  credentials: {{access_key_env: SRC_KEY, secret_key_env: SRC_SECRET}}
"""
#: A spec's target section writing bucket ``{target}`` on the ``seaweed`` fixture (the
#: ``TGT_*`` variables name the endpoint and keys).
SEAWEED_TARGET_SPEC = """\
target:
  provider: seaweedfs
  endpoint: ${{TGT_ENDPOINT}}
  bucket: {target}
  create_bucket: true
  credentials: {{access_key_env: TGT_KEY, secret_key_env: TGT_SECRET}}
"""


def minio_client(server) -> Minio:
    """A MinIO SDK client for an embedded server: an independent reader of what was written."""
    return Minio(urlsplit(server.endpoint).netloc, access_key=server.access_key,
                 secret_key=server.secret_key, secure=False, region="us-east-1")


def bucket_contents(client: Minio, bucket: str, prefix: str = "") -> dict[str, dict]:
    """Every object under *prefix*: body as stored (urllib3 would otherwise decode a
    Content-Encoding), content-type and user metadata, by key."""
    contents = {}
    for item in client.list_objects(bucket, prefix=prefix or None, recursive=True):
        response = client.get_object(bucket, item.object_name)
        try:
            body = response.read(decode_content=False)
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


def digests(client: Minio, bucket: str) -> dict[str, str]:
    """SHA-256 of every object's body in *bucket*, by key."""
    return {key: hashlib.sha256(value["body"]).hexdigest()
            for key, value in bucket_contents(client, bucket).items()}


class KillAndRestart(SilentObserver):
    """Kills the target server (SIGKILL) after some objects were copied; restarts it later."""

    def __init__(self, server, after_objects: int, down_seconds: float) -> None:
        self.server, self.after, self.down = server, after_objects, down_seconds
        self.copied, self.restarted = 0, threading.Event()
        self._lock = threading.Lock()

    def advanced(self, phase, objects, nbytes):
        with self._lock:
            self.copied += objects if phase == "copy" else 0
            due = self.copied >= self.after and not hasattr(self, "killed_at")
            if due:
                self.killed_at = self.copied
        if due:
            self.server.kill()
            self.restart_timer = threading.Timer(self.down, self._restart)
            self.restart_timer.start()

    def _restart(self):
        self.server.start()
        self.restarted.set()
