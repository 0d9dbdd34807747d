"""``options.engine: rclone``: the copy phase run by ``rclone copy``, while exitkit plans,
verifies, times and records exactly as with its own copy.

exitkit hands rclone the plan, not the bucket: one ``rclone copy`` with a ``--files-from-raw``
list of the planned keys (``--no-traverse``: rclone lists neither side), the drill's
concurrency as ``--transfers``/``--checkers``, its retries, and both remotes as
environment variables (never argv). Keys the target cannot hold and archived objects are
classed before rclone runs, as exitkit's copy classes them; rclone's JSON log says which
keys failed, with its reason. rclone's own checks do not count as proof: every copied
object is proven by the verify phase, which reads the source itself (the copy's
digests are not there to reuse).

rclone writes its modification-time bookkeeping on S3 targets as user metadata
(``mtime``, and ``btime`` with ``--metadata``); :data:`ENGINE_METADATA` names those keys,
which verification leaves out of the comparison where the source does not have them and
states as a gap. rclone carries content type, the standard headers and user metadata
between object stores (``--metadata``); not tags, retention or legal holds, which
verification then reports as lost.
"""

import json
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from exitkit.drill.copy import CopiedObject, CopyOutcome
from exitkit.drill.events import DrillObserver
from exitkit.drill.keys import KeyMap
from exitkit.drill.spec import S3_PROVIDERS, Endpoint
from exitkit.drill.spec_file import Keys, LoadedSpec
from exitkit.errors import PermanentError, SpecError, TransientError
from exitkit.measure.timing import PhaseClock
from exitkit.providers.archive import needs_restore, restore_advice
from exitkit.providers.contract import Attributes, Capabilities
from exitkit.providers.rclone import remote_config
from exitkit.providers.rclone_config import (NO_CONFIG_FILE, RemoteConfig, child_environment,
                                             defined_remote, rclone_binary)
from exitkit.providers.registry import endpoint_url, region_of
from exitkit.verify.classes import unrepresentable_reason
from exitkit.verify.entries import Entry

ENGINE = "rclone"
#: User metadata rclone itself writes on object-store targets (its modification time).
ENGINE_METADATA = frozenset({"mtime", "btime"})
#: Provider kinds rclone copies between here (GCS through rclone is not tested here).
ENGINE_PROVIDERS = frozenset({*S3_PROVIDERS, "local", "rclone"})
LOW_LEVEL_RETRIES = 10


def refuse_unsupported_engine(loaded: LoadedSpec) -> None:
    """Raise SpecError when ``options.engine: rclone`` cannot run this drill as planned."""
    spec = loaded.spec
    if spec.options.engine != ENGINE:
        return
    for side, endpoint in (("source", spec.source), ("target", spec.target)):
        if endpoint.provider not in ENGINE_PROVIDERS:
            raise SpecError(loaded.path, None, f"{side}.provider", f"options.engine rclone "
                            f"copies between S3, local and rclone endpoints, not "
                            f"{endpoint.provider!r}; use engine exitkit")
    if spec.verification.versions == "all":
        raise SpecError(loaded.path, None, "verification.versions", "options.engine rclone "
                        "copies current objects only; use engine exitkit for versions")
    if spec.restore is not None:
        raise SpecError(loaded.path, None, "restore", "options.engine rclone does not "
                        "restore archived objects; use engine exitkit")
    if root_and_leaf(spec.source)[1] != root_and_leaf(spec.target)[1]:
        raise SpecError(loaded.path, None, "target.prefix", "with options.engine rclone the "
                        "source and target prefixes must end alike (both with '/', or with "
                        "the same last segment): rclone copies names, it does not rename")


def engine_remote(endpoint: Endpoint, keys: Keys | None, name: str) -> RemoteConfig:
    """One side of the drill as an rclone remote named *name*."""
    if endpoint.provider == "rclone":
        return remote_config(endpoint.rclone, keys, name)
    if endpoint.provider == "local":
        return defined_remote(name, "local", {}, {})
    parameters = {"provider": "AWS" if endpoint.provider == "aws-s3" else "Other",
                  "endpoint": endpoint_url(endpoint), "region": region_of(endpoint) or "",
                  "no_check_bucket": "true"}
    if endpoint.requester_pays:
        parameters["requester_pays"] = "true"
    secrets = {"access_key_id": keys.access_key.get_secret_value(),
               "secret_access_key": keys.secret_key.get_secret_value()} if keys else {}
    return defined_remote(name, "s3", parameters, secrets)


def root_and_leaf(endpoint: Endpoint) -> tuple[str, str]:
    """The rclone path of the prefix's directory (in the bucket) and the prefix's last,
    partial segment, which every planned name starts with."""
    directory, _, leaf = endpoint.prefix.rpartition("/")
    bucket = (f"{endpoint.path.rstrip('/')}/{endpoint.bucket}" if endpoint.provider == "local"
              else endpoint.bucket)
    return "/".join(part for part in (bucket, directory) if part), leaf


def _failures(log_lines: Iterable[str]) -> dict[str, str]:
    """Object -> rclone's error message, from its JSON log (the last error per object)."""
    failed = {}
    for line in log_lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") == "error" and entry.get("object"):
            failed[entry["object"]] = str(entry.get("msg", "error"))[:300]
    return failed


def rclone_copy_phase(plan: list[Entry], source: Endpoint, source_keys: Keys | None,
                      target: Endpoint, target_keys: Keys | None,
                      capabilities: Capabilities, keys: KeyMap, concurrency: int,
                      max_retries: int, clock: PhaseClock, observer: DrillObserver,
                      outcome: CopyOutcome) -> CopyOutcome:
    """Copy the current object of every entry of *plan* with one ``rclone copy``; fill
    *outcome* as exitkit's copy phase would (copied, failed with class, unrepresentable)."""
    source_root, leaf = root_and_leaf(source)
    target_root, _ = root_and_leaf(target)
    names: dict[str, Entry] = {}
    for entry in plan:
        reason = unrepresentable_reason(keys.on_target(entry.relative), entry.age, capabilities)
        if reason is not None:
            outcome.unrepresentable[entry.order] = reason
        elif needs_restore(entry.info.storage_class):
            outcome.fail(entry, "archived", f"GET {entry.info.key}: "
                                            f"{restore_advice(entry.info.storage_class)}")
            observer.advanced("copy", 1, 0)
        elif "\n" in entry.relative or "\r" in entry.relative:
            outcome.fail(entry, "failed", "the key holds a line break, which rclone's "
                                          "--files-from list cannot name")
            observer.advanced("copy", 1, 0)
        else:
            names[leaf + entry.relative] = entry
    if not names:
        return outcome
    from_remote = engine_remote(source, source_keys, "exitkitsource")
    to_remote = engine_remote(target, target_keys, "exitkittarget")
    object_stores = source.provider in S3_PROVIDERS and target.provider in S3_PROVIDERS
    with tempfile.TemporaryDirectory(prefix="exitkit-rclone-") as scratch:
        listing = Path(scratch, "files-from")
        listing.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
        log = Path(scratch, "rclone.log")
        command = [rclone_binary(), "copy", from_remote.path(source_root),
                   to_remote.path(target_root), "--files-from-raw", str(listing),
                   "--no-traverse", "--transfers", str(concurrency), "--checkers",
                   str(concurrency), "--retries", str(max_retries + 1), "--low-level-retries",
                   str(LOW_LEVEL_RETRIES), "--use-json-log", "--log-level", "INFO",
                   "--log-file", str(log), "--stats", "0", *NO_CONFIG_FILE]
        if object_stores:
            command.append("--metadata")
        try:
            done = subprocess.run(command, env=child_environment(from_remote, to_remote),
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  check=False)
        except OSError as exc:
            raise PermanentError(f"rclone copy: {type(exc).__name__}") from None
        failed = {}
        if log.exists():  # rclone writes it once it runs
            with log.open(encoding="utf-8", errors="replace") as lines:
                failed = _failures(lines)
    if done.returncode != 0 and not failed:
        tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise TransientError(f"rclone copy failed: {tail[0][:300]}")
    for name, entry in names.items():
        if name in failed:
            outcome.fail(entry, "failed", f"rclone: {failed[name]}")
            observer.advanced("copy", 1, 0)
            continue
        size = entry.info.size
        outcome.copied[entry.order] = CopiedObject(
            size=size, sha256="", source_etag=entry.info.etag, attributes=Attributes(),
            checksums={}, parts=1, target_key=keys.on_target(entry.relative), engine=ENGINE)
        clock.add(1, size)
        observer.advanced("copy", 1, size)
    return outcome
