"""The signed, hash-chained ledger: real drills append, every tampering is found and located."""

import base64
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.evidence.audit import audit_ledger
from exitkit.evidence.ledger import append, read_lines
from exitkit.evidence.signing import generate_key_pair, load_public_key, load_signer
from exitkit.evidence.store import read_record
from exitkit.providers.boto import s3_client
from tests.helpers import exitkit


@pytest.fixture(scope="module")
def ledger_run(tmp_path_factory, moto, seaweed):
    """Three real runs of one drill (two drills, one verify) appended to one ledger."""
    base = tmp_path_factory.mktemp("ledger")
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key)
    seed_bucket(client, "ledger-src", list(demo_objects(40)))
    private, public, _ = generate_key_pair(base / "keys" / "drill")
    env = _env(moto, seaweed)
    spec = base / "drill.yaml"
    spec.write_text(LEDGER_SPEC, encoding="utf-8")
    ledger = base / "evidence" / "ledger.jsonl"
    for command in ("drill", "drill", "verify"):
        args = ("drill", "run") if command == "drill" else ("verify",)
        done = exitkit(*args, str(spec), "--results", str(base / "evidence" / "records"),
                       "--ledger", str(ledger), "--signing-key", str(private), "--quiet",
                       env=env)
        assert done.returncode == 0, done.stderr
    return base, ledger, public, private


def _env(moto, seaweed):
    return {**os.environ, "SRC_ENDPOINT": moto.endpoint, "SRC_KEY": moto.access_key,
            "SRC_SECRET": moto.secret_key, "TGT_ENDPOINT": seaweed.endpoint,
            "TGT_KEY": seaweed.access_key, "TGT_SECRET": seaweed.secret_key}


LEDGER_SPEC = """\
version: 1
name: ledger-drill
source: {provider: aws-s3, endpoint: "${SRC_ENDPOINT}", region: us-east-1, bucket: ledger-src,
         credentials: {access_key_env: SRC_KEY, secret_key_env: SRC_SECRET}}
target: {provider: seaweedfs, endpoint: "${TGT_ENDPOINT}", bucket: ledger-tgt,
         create_bucket: true, credentials: {access_key_env: TGT_KEY, secret_key_env: TGT_SECRET}}
options: {concurrency: 4}
"""


def _copy(ledger_run, tmp_path) -> Path:
    """A private copy of the ledger and its records to tamper with."""
    base, ledger, _, _ = ledger_run
    shutil.copytree(ledger.parent, tmp_path / "evidence")
    return tmp_path / "evidence" / "ledger.jsonl"


def _audit(ledger: Path, ledger_run, **options):
    return audit_ledger(ledger, load_public_key(ledger_run[2]), **options)


def _lines(ledger: Path) -> list[bytes]:
    return [line for _, line in read_lines(ledger)]


def _write(ledger: Path, lines: list[bytes]) -> None:
    ledger.write_bytes(b"".join(line + b"\n" for line in lines))


def test_a_clean_ledger_holds_and_the_cli_says_so(ledger_run):
    base, ledger, public, _ = ledger_run
    result = _audit(ledger, ledger_run)
    assert result.passed and result.entries == 3
    entries = [json.loads(line) for line in _lines(ledger)]
    assert [e["entry"] for e in entries] == [1, 2, 3]
    assert [e["record"]["options"]["verify_only"] for e in entries] == [False, False, True]
    record = read_record(ledger.parent / entries[2]["record_file"])
    assert record.run_id == entries[2]["record"]["run_id"]
    done = exitkit("audit", "verify", str(ledger), "--pubkey", str(public))
    assert done.returncode == 0 and result.head_sha256 in done.stdout, done.stderr
    listed = exitkit("history", "--ledger", str(ledger), "--drill", "ledger-drill", "--json")
    rows = json.loads(listed.stdout)
    assert [row["entry"] for row in rows] == [1, 2, 3]
    assert [row["run_id"] for row in rows] == [e["record"]["run_id"] for e in entries]
    assert all(row["verdict"] == "passed" and row["completeness_pct"] == 100 for row in rows)
    assert exitkit("history", "--ledger", str(ledger), "--drill", "other", "--json").stdout \
        .strip() == "[]"


def test_every_changed_byte_is_found_in_its_entry(ledger_run, tmp_path):
    ledger = _copy(ledger_run, tmp_path)
    original = ledger.read_bytes()
    starts = [0]
    for line in _lines(ledger):
        starts.append(starts[-1] + len(line) + 1)
    positions = sorted({p for i in range(3) for p in range(starts[i], starts[i + 1], 211)}
                       | {s - 2 for s in starts[1:]} | {s - 1 for s in starts[1:]})
    for position in positions:
        damaged = bytearray(original)
        damaged[position] = ord("0") if damaged[position] != ord("0") else ord("1")
        ledger.write_bytes(bytes(damaged))
        result = _audit(ledger, ledger_run)
        line = next(i for i in range(3) if starts[i] <= position < starts[i + 1]) + 1
        assert not result.passed, position
        # a damaged newline joins two lines: found at the first of them
        assert result.failure.line == line, (position, result.failure)


def test_a_signature_changed_only_in_its_base64_padding_bits_is_found_in_its_entry(
        ledger_run, tmp_path):
    """The last base64 character of a signature carries unused bits: changing them decodes
    to the same signature bytes, yet it is a changed byte of the signed entry."""
    ledger = _copy(ledger_run, tmp_path)
    first, second, third = _lines(ledger)
    entry = json.loads(first)
    signature = entry["signature"]
    data = signature.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = data[:-1] + alphabet[alphabet.index(data[-1]) ^ 1] + signature[len(data):]
    assert base64.b64decode(twin) == base64.b64decode(signature) and twin != signature
    _write(ledger, [first.replace(signature.encode(), twin.encode()), second, third])
    failure = _audit(ledger, ledger_run).failure
    assert failure.line == 1 and "signature does not hold" in failure.reason


def test_deleted_reordered_inserted_entries_and_swapped_signatures_are_located(
        ledger_run, tmp_path):
    ledger = _copy(ledger_run, tmp_path)
    first, second, third = _lines(ledger)
    cases = {
        "deleted": ([first, third], 2, "entry number 3 where 2"),
        "reordered": ([first, third, second], 2, "entry number 3 where 2"),
        "inserted": ([first, first, second, third], 2, "entry number 1 where 2"),
    }
    for name, (lines, line, reason) in cases.items():
        _write(ledger, lines)
        failure = _audit(ledger, ledger_run).failure
        assert failure is not None and failure.line == line and reason in failure.reason, name
    one, two = json.loads(first), json.loads(second)
    one["signature"], two["signature"] = two["signature"], one["signature"]
    swapped = [json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
               for e in (one, two)]
    _write(ledger, [*swapped, third])
    failure = _audit(ledger, ledger_run).failure
    assert failure.line == 1 and "signature does not hold" in failure.reason


def test_an_entry_forged_with_another_key_is_refused(ledger_run, tmp_path):
    ledger = _copy(ledger_run, tmp_path)
    private, _, _ = generate_key_pair(tmp_path / "intruder")
    record_path = next((ledger.parent / "records").glob("*.json"))
    append(ledger, read_record(record_path), record_path, load_signer(private))
    failure = _audit(ledger, ledger_run).failure
    assert failure.line == 4 and "not with the given key" in failure.reason


def test_removing_the_last_entry_is_found_against_a_known_head(ledger_run, tmp_path):
    ledger = _copy(ledger_run, tmp_path)
    head = _audit(ledger, ledger_run).head_sha256
    _write(ledger, _lines(ledger)[:2])
    assert _audit(ledger, ledger_run).passed  # a shorter chain is still a chain ...
    failure = _audit(ledger, ledger_run, expect_head=head).failure
    assert failure and "removed" in failure.reason  # ... but not the one that was seen
    done = exitkit("audit", "verify", str(ledger), "--pubkey", str(ledger_run[2]),
                   "--expect-head", head)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.alters_records
def test_an_altered_manifest_or_record_file_is_named(ledger_run, tmp_path):
    ledger = _copy(ledger_run, tmp_path)
    entry = json.loads(_lines(ledger)[1])
    manifest = ledger.parent / "records" / entry["record"]["verification"]["manifest"]["file"]
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]), encoding="utf-8")  # one verified object dropped
    failure = _audit(ledger, ledger_run).failure
    assert failure.line == 2 and "manifest" in failure.reason and "altered" in failure.reason
    done = exitkit("audit", "verify", str(ledger), "--pubkey", str(ledger_run[2]))
    assert done.returncode == 1 and f"{ledger}:2:" in done.stderr
    shutil.copy(ledger_run[1].parent / "records" / manifest.name, manifest)
    record_file = ledger.parent / entry["record_file"]
    record_file.write_text(record_file.read_text().replace('"passed"', '"failed"', 1))
    failure = _audit(ledger, ledger_run).failure
    assert failure.line == 2 and "differs from the one signed" in failure.reason


def _append_many(ledger: str, record_path: str, key: str, count: int) -> None:
    signer = load_signer(key)
    record = read_record(record_path)
    for _ in range(count):
        append(Path(ledger), record, Path(record_path), signer)


def test_concurrent_appends_from_many_processes_keep_one_chain(ledger_run, tmp_path):
    base, ledger, public, private = ledger_run
    shared = _copy(ledger_run, tmp_path)
    record_path = ledger.parent / json.loads(_lines(ledger)[0])["record_file"]
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(_append_many, str(shared), str(record_path), str(private), 10)
                for _ in range(4)]
        for job in jobs:
            job.result()
    result = _audit(shared, ledger_run)
    assert result.passed and result.entries == 3 + 40


def test_a_ledger_without_a_signing_key_is_refused_before_the_drill(ledger_run, tmp_path, moto,
                                                                  seaweed):
    base = ledger_run[0]
    env = {key: value for key, value in _env(moto, seaweed).items()
           if not key.startswith("EXITKIT_SIGNING")}
    done = exitkit("drill", "run", str(base / "drill.yaml"), "--results", str(tmp_path / "r"),
                   "--ledger", str(tmp_path / "ledger.jsonl"), env=env)
    assert done.returncode == 2 and "needs a signing key" in done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "r").exists()


def test_keys_generate_never_overwrites_a_key(tmp_path):
    done = exitkit("keys", "generate", "--out", str(tmp_path / "k"))
    assert done.returncode == 0 and (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    before = (tmp_path / "k.key").read_bytes()
    again = exitkit("keys", "generate", "--out", str(tmp_path / "k"))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert (tmp_path / "k.key").read_bytes() == before
    assert load_signer(tmp_path / "k.key").key_id in done.stdout
