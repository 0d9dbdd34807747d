"""A bucket's configuration, read (and on a target, written) one setting at a time.

Libcloud has no API for any bucket configuration, so this module uses boto3, whose
botocore serializers and parsers cover every one of these XML documents (writing them by
hand would duplicate botocore). A source gets a :class:`BucketSettingsReader`, which only
sends GET requests; only a target gets a :class:`BucketSettingsWriter`.

Each :class:`Setting` is either *carried* (exitkit writes it to a target that can hold it
and reads it back) or *reported* (exitkit reads it and says why it does not carry it: it
names the source provider's own resources or services).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exitkit.errors import PermanentError, TransientError

#: Error codes a store answers for an API it does not implement.
UNIMPLEMENTED = frozenset({"NotImplemented", "XNotImplemented", "MethodNotAllowed",
                           "NotSupported", "UnsupportedOperation"})
_TRANSIENT = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                        "Throttling", "ThrottlingException"})


def _without_metadata(response: dict) -> dict:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _versioning(response: dict) -> dict | None:
    value = {key: response[key] for key in ("Status", "MFADelete") if key in response}
    return value or None


def _lifecycle(response: dict) -> dict | None:
    return {"Rules": response["Rules"]} if response.get("Rules") else None


def _listed(key: str) -> Callable[[dict], dict | None]:
    def value(response: dict) -> dict | None:
        return {key: response[key]} if response.get(key) else None
    return value


def _nested(key: str) -> Callable[[dict], dict | None]:
    def value(response: dict) -> dict | None:
        return response.get(key) or None
    return value


def _object_lock(response: dict) -> dict | None:
    value = response.get("ObjectLockConfiguration") or {}
    return value if value.get("ObjectLockEnabled") == "Enabled" else None


def _policy(response: dict) -> dict | None:
    return json.loads(response["Policy"]) if response.get("Policy") else None


def _notifications(response: dict) -> dict | None:
    return _without_metadata(response) or None


def _request_payment(response: dict) -> dict | None:
    return {"Payer": "Requester"} if response.get("Payer") == "Requester" else None


def _accelerate(response: dict) -> dict | None:
    return {"Status": "Enabled"} if response.get("Status") == "Enabled" else None


@dataclass(frozen=True)
class Setting:
    """One kind of bucket configuration and the S3 API calls that read and write it.

    ``read`` names the boto3 method (a GET) and ``value`` extracts the setting from its
    answer (None: not configured); ``absent`` lists the error codes that also mean "not
    configured". ``write`` takes (client, bucket, value) and ``remove`` (client, bucket)
    for carried settings; a reported one has neither, and ``not_carried`` says why.
    """

    name: str
    read: str
    value: Callable[[dict], Any]
    absent: frozenset[str] = frozenset()
    write: Callable[[Any, str, Any], None] | None = None
    remove: Callable[[Any, str], None] | None = None
    not_carried: str = ""
    listed: str | None = None  # for list_* reads: the key holding the configurations

    @property
    def carried(self) -> bool:
        """Whether exitkit writes this setting to a target."""
        return self.write is not None


def _put(method: str, argument: str, encode: Callable[[Any], Any] = lambda value: value):
    def write(client, bucket: str, value: Any) -> None:
        getattr(client, method)(Bucket=bucket, **{argument: encode(value)})
    return write


def _delete(method: str):
    def remove(client, bucket: str) -> None:
        getattr(client, method)(Bucket=bucket)
    return remove


def _suspend_versioning(client, bucket: str) -> None:
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})


def _lock_without_default(client, bucket: str) -> None:
    client.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"})


SETTINGS: tuple[Setting, ...] = (
    Setting("versioning", "get_bucket_versioning", _versioning,
            write=_put("put_bucket_versioning", "VersioningConfiguration"),
            remove=_suspend_versioning),
    Setting("lifecycle", "get_bucket_lifecycle_configuration", _lifecycle,
            frozenset({"NoSuchLifecycleConfiguration"}),
            _put("put_bucket_lifecycle_configuration", "LifecycleConfiguration"),
            _delete("delete_bucket_lifecycle")),
    Setting("cors", "get_bucket_cors", _listed("CORSRules"),
            frozenset({"NoSuchCORSConfiguration"}),
            _put("put_bucket_cors", "CORSConfiguration"), _delete("delete_bucket_cors")),
    Setting("website", "get_bucket_website", lambda r: _without_metadata(r) or None,
            frozenset({"NoSuchWebsiteConfiguration"}),
            _put("put_bucket_website", "WebsiteConfiguration"), _delete("delete_bucket_website")),
    Setting("tags", "get_bucket_tagging", _listed("TagSet"), frozenset({"NoSuchTagSet"}),
            _put("put_bucket_tagging", "Tagging"), _delete("delete_bucket_tagging")),
    Setting("object_lock", "get_object_lock_configuration", _object_lock,
            frozenset({"ObjectLockConfigurationNotFoundError"}),
            _put("put_object_lock_configuration", "ObjectLockConfiguration"),
            _lock_without_default),
    Setting("policy", "get_bucket_policy", _policy, frozenset({"NoSuchBucketPolicy"}),
            _put("put_bucket_policy", "Policy", json.dumps), _delete("delete_bucket_policy")),
    Setting("public_access_block", "get_public_access_block",
            _nested("PublicAccessBlockConfiguration"),
            frozenset({"NoSuchPublicAccessBlockConfiguration"}),
            _put("put_public_access_block", "PublicAccessBlockConfiguration"),
            _delete("delete_public_access_block")),
    Setting("default_encryption", "get_bucket_encryption",
            _nested("ServerSideEncryptionConfiguration"),
            frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
            _put("put_bucket_encryption", "ServerSideEncryptionConfiguration"),
            _delete("delete_bucket_encryption")),
    Setting("ownership_controls", "get_bucket_ownership_controls", _nested("OwnershipControls"),
            frozenset({"OwnershipControlsNotFoundError"}),
            _put("put_bucket_ownership_controls", "OwnershipControls"),
            _delete("delete_bucket_ownership_controls")),
    Setting("replication", "get_bucket_replication", _nested("ReplicationConfiguration"),
            frozenset({"ReplicationConfigurationNotFoundError"}),
            not_carried="replication names the source provider's IAM role and destination "
                        "buckets: set up replication again on the target platform"),
    Setting("notifications", "get_bucket_notification_configuration", _notifications,
            not_carried="notifications deliver to the source provider's queues, topics or "
                        "functions: recreate them against the target's event services"),
    Setting("logging", "get_bucket_logging", _nested("LoggingEnabled"),
            not_carried="access logs go to a bucket of the source account: configure the "
                        "target's access logging"),
    Setting("request_payment", "get_bucket_request_payment", _request_payment,
            not_carried="Requester Pays is the source provider's billing arrangement: agree "
                        "charging with the target provider"),
    Setting("transfer_acceleration", "get_bucket_accelerate_configuration", _accelerate,
            not_carried="transfer acceleration is the source provider's edge network"),
    Setting("inventory", "list_bucket_inventory_configurations", _listed(
                "InventoryConfigurationList"), listed="InventoryConfigurationList",
            not_carried="inventory reports are a service of the source provider"),
    Setting("analytics", "list_bucket_analytics_configurations", _listed(
                "AnalyticsConfigurationList"), listed="AnalyticsConfigurationList",
            not_carried="storage class analysis is a service of the source provider"),
    Setting("metrics", "list_bucket_metrics_configurations", _listed(
                "MetricsConfigurationList"), listed="MetricsConfigurationList",
            not_carried="request metrics are the source provider's monitoring"),
    Setting("intelligent_tiering", "list_bucket_intelligent_tiering_configurations", _listed(
                "IntelligentTieringConfigurationList"),
            listed="IntelligentTieringConfigurationList",
            not_carried="Intelligent-Tiering archive configurations are the source "
                        "provider's storage classes: map them with target.storage_classes"),
)
SETTING_NAMES = tuple(setting.name for setting in SETTINGS)
CARRIED_NAMES = tuple(setting.name for setting in SETTINGS if setting.carried)


@dataclass(frozen=True)
class Reading:
    """A setting as read: its value (None: not configured), or why it could not be read."""

    value: Any = None
    unimplemented: str | None = None  # the store does not implement the API (error code)


class SettingRefused(PermanentError):
    """The store refused a request about a setting; ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BucketSettingsReader:
    """Reads one bucket's settings with GET requests only (a drill's source gets this)."""

    def __init__(self, client, bucket: str, label: str) -> None:
        self._client = client
        self.bucket = bucket
        self.label = label

    def read(self, setting: Setting) -> Reading:
        """The setting's current value; a refusal other than "not configured" or "not
        implemented" raises :class:`SettingRefused` (or TransientError)."""
        try:
            response = self._call(setting)
        except SettingRefused as exc:
            if exc.code in setting.absent:
                return Reading()
            if exc.code in UNIMPLEMENTED:
                return Reading(unimplemented=exc.code)
            raise
        return Reading(value=setting.value(response))

    def _call(self, setting: Setting) -> dict:
        what = f"{self.label}: {setting.name} of {self.bucket}"
        try:
            if setting.listed:
                return self._all_pages(setting)
            return getattr(self._client, setting.read)(Bucket=self.bucket) or {}
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode", "unknown"))
            message = f"{what}: {code}: {error.get('Message') or 'refused'}"
            if code in _TRANSIENT:
                raise TransientError(message) from None
            raise SettingRefused(code, message) from None
        except BotoCoreError as exc:
            raise TransientError(f"{what}: {exc}") from None

    def _all_pages(self, setting: Setting) -> dict:
        found, token = [], None
        while True:
            arguments = {"ContinuationToken": token} if token else {}
            page = getattr(self._client, setting.read)(Bucket=self.bucket, **arguments)
            found += page.get(setting.listed) or []
            token = page.get("NextContinuationToken")
            if not (page.get("IsTruncated") and token):
                return {setting.listed: found}


class BucketSettingsWriter(BucketSettingsReader):
    """Reads and writes one target bucket's settings."""

    def write(self, setting: Setting, value: Any) -> None:
        """Set *setting* to *value* (raises SettingRefused when the store refuses)."""
        self._apply(setting, lambda: setting.write(self._client, self.bucket, value))

    def remove(self, setting: Setting) -> None:
        """Return *setting* to "not configured" (versioning: suspended; Object Lock: no
        default retention)."""
        self._apply(setting, lambda: setting.remove(self._client, self.bucket))

    def _apply(self, setting: Setting, request: Callable[[], None]) -> None:
        what = f"{self.label}: {setting.name} of {self.bucket}"
        try:
            request()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "unknown")
            raise SettingRefused(code, f"{what}: {code}: {error.get('Message') or 'refused'}"
                                 ) from None
        except BotoCoreError as exc:
            raise TransientError(f"{what}: {exc}") from None


def holds(written: Any, read_back: Any) -> bool:
    """Whether *read_back* holds everything *written*: equal scalars, lists of equal length
    holding each element in order, and dicts holding every written key (a store may add
    its own defaults, such as ``Years: 0`` beside ``Days``). A one-element list and its
    element are equal, as in IAM policy documents."""
    if isinstance(written, list) and len(written) == 1 and not isinstance(read_back, list):
        return holds(written[0], read_back)
    if isinstance(read_back, list) and len(read_back) == 1 and not isinstance(written, list):
        return holds(written, read_back[0])
    if isinstance(written, dict):
        return isinstance(read_back, dict) and all(
            key in read_back and holds(value, read_back[key]) for key, value in written.items())
    if isinstance(written, list):
        return (isinstance(read_back, list) and len(written) == len(read_back)
                and all(holds(a, b) for a, b in zip(written, read_back)))
    return written == read_back
