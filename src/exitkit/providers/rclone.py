"""Any rclone remote (SFTP, WebDAV, SMB, Swift, Google Drive, OneDrive, ...) as source and
target, through one long-lived ``rclone rcd`` per adapter.

No subprocess per object: listings stream from one ``rclone lsjson -R --hash`` (one JSON
object per line, so memory stays flat); HEAD, DELETE and uploads are calls to the rcd's
remote-control API (``operations/stat``, ``operations/deletefile``,
``operations/uploadfile`` with a chunked multipart body built from the copy's chunks); GETs
stream from the rcd's ``--rc-serve`` file server. The rcd listens on loopback with a random
user and password, reaches the remote through environment variables only (see
:mod:`exitkit.providers.rclone_config`), and stops when the adapter is collected or the
process exits.

What the adapter holds is what rclone reports for the remote (``operations/fsinfo``): one
of its hashes becomes the proof (MD5 as the ETag, so ``etag-md5`` proves it against an S3
copy; else SHA-256, SHA-1 or CRC32 as a full-object checksum), and a path-keyed remote
(every non-bucket backend) takes path keys; bytes are all it keeps of an object (no content type,
metadata, tags or classes), and the drill reports those as gaps.
"""

import base64
import json
import secrets
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import quote

import requests

from exitkit.errors import EndpointError, ExitkitError, PermanentError, TransientError
from exitkit.measure.requests import RequestCounter
from exitkit.providers.contract import (Attributes, Capabilities, Conformance, ObjectInfo,
                                        ObjectStream, PutResult)
from exitkit.providers.failures import classify, error_for_status
from exitkit.providers.http_answers import stored_chunks
from exitkit.providers.plain_objects import PlainObjects
from exitkit.providers.rclone_config import (NO_CONFIG_FILE, RemoteConfig, child_environment,
                                             configured_remote, defined_remote, rclone_binary)

#: Where uploads land before they are moved to their key (left out of listings).
PARTIAL_DIR = ".exitkit-partial"
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
REQUEST_TIMEOUT_S = 300
POOL_SIZE = 256  # connections to the rcd: up to one per worker (options.concurrency <= 256)
#: Hashes rclone may report, by its name, with the contract's checksum name; md5 is the ETag.
CHECKSUM_HASHES = {"sha256": "sha256", "sha1": "sha1", "crc32": "crc32"}
#: What a remote is declared to hold before rclone is asked: bytes under path keys, as a
#: file system keeps them (SFTP, WebDAV, SMB, local, Drive, OneDrive ...).
PROFILE_CAPABILITIES = Capabilities(max_key_bytes=4096, path_keys=True, max_segment_bytes=255)
#: A bucket-based remote (S3, Swift, GCS, B2, Azure through rclone): flat keys.
BUCKET_CAPABILITIES = Capabilities(max_key_bytes=1024, directory_markers=False)


def remote_label(remote) -> str:
    """A secret-free name of a spec's rclone remote: ``rclone:<type>[@host]`` or
    ``rclone:<remote>@<rclone.conf>``."""
    if remote.type:
        host = remote.parameters.get("host") or remote.parameters.get("url")
        return f"rclone:{remote.type}" + (f"@{host}" if host else "")
    return f"rclone:{remote.remote}@{remote.config}"


def remote_config(remote, keys, name: str) -> RemoteConfig:
    """The environment that defines a spec's rclone remote for an rclone child process."""
    if remote.type:
        secrets_ = {option: value.get_secret_value()
                    for option, value in (keys.secrets if keys else {}).items()}
        return defined_remote(name, remote.type, remote.parameters, secrets_)
    return configured_remote(name, remote.config, remote.remote)


def proof_hash(fsinfo: Mapping) -> str | None:
    """The one hash exitkit asks of the remote (some compute it by reading the file): MD5
    where the backend has it (it serves as the ETag), else SHA-256, SHA-1 or CRC32."""
    held = set(fsinfo.get("Hashes") or ())
    return next((name for name in ("md5", *CHECKSUM_HASHES) if name in held), None)


def capabilities_from(fsinfo: Mapping) -> Capabilities:
    """What a remote holds, from rclone's ``operations/fsinfo``: flat or path keys, and
    the hash read as a full-object checksum when it is not MD5 (the ETag)."""
    bucket_based = fsinfo.get("Features", {}).get("BucketBased", False)
    chosen = proof_hash(fsinfo)
    return replace(BUCKET_CAPABILITIES if bucket_based else PROFILE_CAPABILITIES,
                   additional_checksums=frozenset({CHECKSUM_HASHES[chosen]})
                   if chosen in CHECKSUM_HASHES else frozenset())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RcloneDaemon:
    """One ``rclone rcd`` on loopback serving one remote; started on first use."""

    def __init__(self, remote: RemoteConfig) -> None:
        self.remote = remote
        self.process: subprocess.Popen | None = None
        self._auth = ("exitkit", secrets.token_hex(16))
        self._lock = threading.Lock()
        self._session = requests.Session()
        pool = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
        self._session.mount("http://", pool)
        self.url = ""

    def ensure_started(self) -> None:
        """Start the rcd unless it runs, and wait until it answers."""
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                return
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}"
            env = child_environment(self.remote)
            env.update(RCLONE_RC_USER=self._auth[0], RCLONE_RC_PASS=self._auth[1])
            self.process = subprocess.Popen(
                [rclone_binary(), "rcd", "--rc-addr", f"127.0.0.1:{port}", "--rc-serve",
                 *NO_CONFIG_FILE], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    self._session.post(f"{self.url}/rc/noop", json={}, auth=self._auth,
                                       timeout=2).raise_for_status()
                    return
                except requests.RequestException:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self._stop_locked()
                        raise ExitkitError("rclone rcd did not start") from None
                    time.sleep(0.1)

    def call(self, command: str, what: str, **params) -> dict:
        """POST one remote-control *command*; its JSON answer, or the mapped error."""
        self.ensure_started()
        try:
            response = self._session.post(f"{self.url}/{command}", json=params,
                                          auth=self._auth, timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as exc:
            raise classify(exc, what) from None
        return self._answer(response, what)

    @staticmethod
    def _answer(response: requests.Response, what: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code < 300:
            return body
        message = str(body.get("error", ""))[:200]
        if response.status_code == 404 or "not found" in message:
            raise PermanentError(f"{what}: does not exist ({message})")
        if response.status_code in (401, 403) or "permission denied" in message.lower():
            raise PermanentError(f"{what}: permission denied ({message})")
        # rclone answers 500 for anything the remote refused or dropped: worth a retry
        raise TransientError(f"{what}: rclone: {message or response.status_code}")

    def upload(self, fs: str, directory: str, name: str, body: Iterator[bytes],
               boundary: str, what: str) -> None:
        """operations/uploadfile with a streamed multipart body."""
        self.ensure_started()
        try:
            response = self._session.post(
                f"{self.url}/operations/uploadfile", params={"fs": fs, "remote": directory},
                data=body, auth=self._auth, timeout=REQUEST_TIMEOUT_S,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        except requests.RequestException as exc:
            raise classify(exc, what) from None
        self._answer(response, what)

    @contextmanager
    def get(self, fs: str, key: str, what: str) -> Iterator[requests.Response]:
        """A streaming GET of *key* from the rcd's file server (bytes as stored)."""
        self.ensure_started()
        url = f"{self.url}/{quote(f'[{fs}]')}/{quote(key)}"
        try:
            response = self._session.get(url, auth=self._auth, stream=True,
                                         timeout=REQUEST_TIMEOUT_S,
                                         headers={"Accept-Encoding": "identity"})
        except requests.RequestException as exc:
            raise classify(exc, what) from None
        try:
            if response.status_code == 404:
                raise PermanentError(f"{what}: object does not exist")
            if response.status_code >= 300:
                raise error_for_status(response.status_code, what)
            yield response
        finally:
            response.close()

    def _stop_locked(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self) -> None:
        """Stop the rcd and wait for it to exit."""
        with self._lock:
            self._stop_locked()
        self._session.close()


def _info(key: str, item: Mapping) -> ObjectInfo:
    hashes = item.get("Hashes") or {}
    checksums = {name: base64.b64encode(bytes.fromhex(hashes[rclone_name])).decode("ascii")
                 for rclone_name, name in CHECKSUM_HASHES.items() if hashes.get(rclone_name)}
    return ObjectInfo(key=key, size=int(item.get("Size", 0)), etag=hashes.get("md5") or None,
                      last_modified=item.get("ModTime"), attributes=Attributes(),
                      checksums=checksums or None, tag_count=0)


class RcloneSource(PlainObjects):
    """Read-only view of one path ("bucket") on an rclone remote; no method writes."""

    def __init__(self, label: str, remote, bucket: str, keys,
                 capabilities: Capabilities | None = None, name: str = "exitkit") -> None:
        self.label = label
        self.bucket = bucket
        self.capabilities = capabilities or PROFILE_CAPABILITIES
        self._measured = capabilities is not None
        self.requests = RequestCounter()
        self.remote = remote_config(remote, keys, name)
        self.fs = self.remote.path(bucket)
        self._daemon = RcloneDaemon(self.remote)
        self._hash_types: list[str] | None = None
        weakref.finalize(self, self._daemon.stop)  # also runs at interpreter exit

    def _call(self, command: str, what: str, read: bool = True, **params) -> dict:
        self.requests.count("GET" if read else "PUT")
        return self._daemon.call(command, what, **params)

    def _observe(self) -> None:
        """Ask rclone what the remote holds (hashes, bucket-based or path keys)."""
        try:
            fsinfo = self._call("operations/fsinfo", f"remote {self.label}", fs=self.fs)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        chosen = proof_hash(fsinfo)
        self._hash_types = [chosen] if chosen else []
        if not self._measured:
            self.capabilities = capabilities_from(fsinfo)

    def _hashes(self) -> list[str]:
        if self._hash_types is None:
            self._observe()
        return self._hash_types or []

    def check(self) -> None:
        """Raise EndpointError unless the remote answers and the path is a directory."""
        self._observe()
        parent, _, name = self.bucket.strip("/").rpartition("/")
        try:
            found = self._call("operations/stat", f"path {self.bucket}",
                               fs=self.remote.path(parent), remote=name).get("item")
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        if not found or not found.get("IsDir"):
            raise EndpointError(self.label, f"path {self.bucket!r} does not exist")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every file under *prefix* with its hashes, from one streamed
        ``rclone lsjson -R`` (directory order, not key order)."""
        directory = prefix.rpartition("/")[0]
        hashes = self._hashes()
        args = [rclone_binary(), "lsjson", "-R", "--files-only", *NO_CONFIG_FILE,
                self.remote.path(self.bucket, directory)]
        if hashes:
            args[2:2] = ["--hash", *(part for name in hashes for part in ("--hash-type", name))]
        self.requests.count("GET", bucket_level=True)
        process = subprocess.Popen(args, env=child_environment(self.remote), text=True,
                                   encoding="utf-8", stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        base = f"{directory}/" if directory else ""
        try:
            for line in process.stdout:
                line = line.strip().rstrip(",")
                if line in ("[", "]", ""):
                    continue
                item = json.loads(line)
                key = base + item["Path"]
                if key.startswith(prefix) and not key.startswith(PARTIAL_DIR + "/"):
                    yield _info(key, item)
            error = process.stderr.read()
            if process.wait() != 0:
                if "directory not found" in error:
                    return
                raise TransientError(f"listing {self.label}: rclone lsjson: "
                                     f"{error.strip()[-200:]}")
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """rclone shows one version per key: the same as :meth:`list`."""
        return self.list(prefix)

    def head(self, key: str, version_id: str | None = None,
             hashes: bool = True) -> ObjectInfo | None:
        """The file's size, time and hashes (operations/stat; without *hashes*, which some
        remotes compute by reading the file, only size and time), or None when missing."""
        wanted = self._hashes() if hashes else []
        opt = {"showHash": True, "hashTypes": wanted} if wanted else {}
        item = self._call("operations/stat", f"HEAD {key}", fs=self.fs, remote=key,
                          opt=opt).get("item")
        if not item or item.get("IsDir"):
            return None
        return _info(key, item)

    @contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[ObjectStream]:
        """Stream the file's bytes as stored from the rcd's file server."""
        info = self.head(key, hashes=False)
        if info is None:
            raise PermanentError(f"GET {key}: object does not exist")
        self.requests.count("GET")
        with self._daemon.get(self.fs, key, f"GET {key}") as response:
            yield ObjectStream(info, stored_chunks(response.raw, key, self.requests))


class RcloneStore(RcloneSource):
    """A path on an rclone remote that a drill may write to."""

    #: How an rclone remote keeps providers/contract.py, measured on an SFTP remote
    #: (``rclone serve sftp``) by tests/test_contract.py.
    conformance = {"rclone": Conformance({
        "max_key_bytes": "the probe tries keys of at most 1,024 bytes; a path holds 4,096",
        "storage_classes": "the probe counts STANDARD as held by every store; a remote "
                           "seen through rclone has no classes"})}

    def prepare(self, create: bool, versioned: bool = False, object_lock: bool = False) -> None:
        """Make sure the path exists (operations/mkdir when *create*)."""
        if create:
            try:
                self._call("operations/mkdir", f"create {self.bucket}", read=False,
                           fs=self.remote.path(""), remote=self.bucket.strip("/"))
            except (TransientError, PermanentError) as exc:
                raise EndpointError(self.label, str(exc)) from None
        self.check()

    def put(self, key: str, chunks: Iterator[bytes], size: int,
            attributes: Attributes) -> PutResult:
        """Stream the bytes to a scratch name through operations/uploadfile (rclone's
        Rcat), then move it to *key* once the whole body arrived with the size sent.

        The scratch name is needed: rclone completes an upload whose request body broke
        off after its last byte (measured on SFTP), so a source failing at its end (a
        digest mismatch found there) would otherwise leave a complete-looking object."""
        scratch = f"{PARTIAL_DIR}/{secrets.token_hex(16)}"
        try:
            sent = self._upload(scratch, chunks, f"PUT {key}")
            stored = self.head(scratch, hashes=False)
            if stored is None or stored.size != sent:
                raise TransientError(f"PUT {key}: the remote stored "
                                     f"{stored.size if stored else 'no'} bytes of {sent}")
            self._call("operations/movefile", f"PUT {key}", read=False, srcFs=self.fs,
                       srcRemote=scratch, dstFs=self.fs, dstRemote=key)
        except BaseException:
            self._discard(scratch)
            raise
        return PutResult(key=key, size=sent, etag=None)

    def _discard(self, scratch: str) -> None:
        """Remove a scratch upload, best effort (a later run's cleanup finds it too)."""
        try:
            self.remove(scratch)
        except (TransientError, PermanentError):
            pass

    def _upload(self, key: str, chunks: Iterator[bytes], what: str) -> int:
        """operations/uploadfile of *chunks* to *key*; the bytes sent."""
        directory, _, name = key.rpartition("/")
        boundary = f"exitkit-{secrets.token_hex(16)}"
        sent, failed = [0], []

        def body() -> Iterator[bytes]:
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                   f"filename*=UTF-8''{quote(name, safe='')}\r\n"
                   f"Content-Type: application/octet-stream\r\n\r\n").encode("ascii")
            try:
                for chunk in chunks:
                    sent[0] += len(chunk)
                    yield chunk
            except BaseException as exc:  # the source failed: the upload must not complete
                failed.append(exc)
                raise
            yield f"\r\n--{boundary}--\r\n".encode("ascii")

        self.requests.count("PUT")
        try:
            self._daemon.upload(self.fs, directory, name, body(), boundary, what)
        except Exception:
            if failed:  # say the source failed, not the remote
                raise failed[0] from None
            raise
        return sent[0]

    def remove(self, key: str, version_id: str | None = None) -> None:
        """Delete *key* (operations/deletefile); a missing key is not an error."""
        try:
            self._call("operations/deletefile", f"DELETE {key}", read=False, fs=self.fs,
                       remote=key)
        except PermanentError as exc:
            if "does not exist" not in str(exc):
                raise
