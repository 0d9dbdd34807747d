"""Store a record and its side files in an S3-compatible bucket, under S3 Object Lock.

Object Lock is not in libcloud, so this uses boto3. Retention is asked for only where the
bucket has Object Lock enabled; every stored object is read back with HEAD, and the record
states whether the retention was really applied (mode and retain-until date as the store
reports them) or why not.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from exitkit.drill.spec import EvidenceStore
from exitkit.drill.spec_file import Keys
from exitkit.errors import EndpointError
from exitkit.evidence.record import EvidenceStoreRecord, ObjectLockRecord
from exitkit.providers.boto import s3_client
from exitkit.providers.registry import endpoint_url, region_of

_NO_LOCK_CODES = {"ObjectLockConfigurationNotFoundError", "NotImplemented", "InvalidRequest",
                  "MethodNotAllowed", "NoSuchObjectLockConfiguration"}


class BucketEvidenceStore:
    """One evidence bucket; :meth:`check` at preflight; after the run
    :meth:`store_side_files`, then :meth:`store_record`."""

    def __init__(self, spec: EvidenceStore, keys: Keys) -> None:
        self.spec = spec
        self.url = endpoint_url(spec)
        self.label = f"evidence store {self.url}/{spec.bucket}"
        self.client = s3_client(self.url, keys.access_key.get_secret_value(),
                                keys.secret_key.get_secret_value(), region_of(spec) or "us-east-1")
        self.lock_enabled: bool | None = None
        self.lock_detail = ""

    def check(self) -> None:
        """Reach the bucket and learn whether it can hold Object Lock retention."""
        try:
            self.client.head_bucket(Bucket=self.spec.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(self.label, f"unreachable or refused ({_reason(exc)})") from None
        if self.spec.object_lock is None:
            return
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.spec.bucket)
        except ClientError as exc:
            if _code(exc) not in _NO_LOCK_CODES:
                raise EndpointError(self.label, f"Object Lock query refused "
                                                f"({_reason(exc)})") from None
            config = {}
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        self.lock_enabled = enabled
        self.lock_detail = ("" if enabled else
                            "the bucket has no Object Lock enabled; stored without retention")

    def store_side_files(self, files: list[Path], record_name: str) -> EvidenceStoreRecord:
        """Upload the side files, HEAD each back, and describe what the store holds.

        The returned description goes into the record, which :meth:`store_record`
        uploads last under the same retention.
        """
        lock = self.spec.object_lock
        self.retain_until = (datetime.now(UTC) + timedelta(days=lock.days)).replace(
            microsecond=0) if lock else None
        held = [self._put(path) for path in files]
        lock_record = None
        if lock:
            applied = bool(self.lock_enabled) and all(held)
            detail = self.lock_detail or (
                f"HEAD of every stored object reports mode {lock.mode.upper()} until "
                f"{self.retain_until.isoformat()}" if applied
                else "the store accepted the objects but does not report their retention")
            lock_record = ObjectLockRecord(mode=lock.mode, days=lock.days,
                                           retain_until=self.retain_until, applied=applied,
                                           detail=detail)
        return EvidenceStoreRecord(url=f"s3://{self.spec.bucket}/{self.spec.prefix}",
                                   files=[path.name for path in files] + [record_name],
                                   object_lock=lock_record)

    def store_record(self, path: Path, described: EvidenceStoreRecord) -> None:
        """Upload the record; fail when its retention is not what the record claims."""
        held = self._put(path)
        if described.object_lock and described.object_lock.applied and not held:
            raise EndpointError(self.label, f"{path.name} was stored without the retention "
                                            f"its record claims")

    def _put(self, path: Path) -> bool:
        """Upload one file (with retention when the bucket allows); True if HEAD shows it."""
        lock = self.spec.object_lock
        extra = {}
        if lock and self.lock_enabled:
            extra = {"ObjectLockMode": lock.mode.upper(),
                     "ObjectLockRetainUntilDate": self.retain_until,
                     "ChecksumAlgorithm": "SHA256"}
        key = self.spec.prefix + path.name
        try:
            self.client.upload_file(str(path), self.spec.bucket, key, ExtraArgs=extra)
            head = self.client.head_object(Bucket=self.spec.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(self.label, f"storing {path.name} failed "
                                            f"({_reason(exc)})") from None
        return bool(extra) and head.get("ObjectLockMode") == extra["ObjectLockMode"] \
            and head.get("ObjectLockRetainUntilDate") is not None


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"HTTP {status} {_code(exc)}".strip()
    return type(exc).__name__
