"""RFC 3161 timestamps on ledger entries, against a real TSA on loopback (OpenSSL's
``openssl ts -reply`` with a test CA made in the fixture, behind a small HTTP server)."""

import base64
import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from exitkit.api import run_drill
from exitkit.cli import app
from exitkit.embedded.servers import free_port
from exitkit.embedded.tsa import LocalTsa, make_test_ca
from exitkit.evidence.audit import audit_ledger
from exitkit.evidence.ledger import canonical, read_lines, signed_part, stamped_part
from exitkit.evidence.signing import generate_key_pair, load_public_key, load_signer
from exitkit.evidence.timestamps import TimestampAuthority, load_trust_anchors

SPEC = """\
version: 1
name: stamped
source: {{provider: local, path: "{root}/source", bucket: files}}
target: {{provider: local, path: "{root}/target", bucket: files, create_bucket: true}}
"""

_runner = CliRunner()


def cli(*args: str):
    """``exitkit`` in this process; returncode, stdout and stderr as of a child."""
    result = _runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    """The loopback TSA for this module."""
    with LocalTsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def stamped(tmp_path_factory, tsa):
    """A ledger of three drills (local directories), every entry stamped by the TSA."""
    base = tmp_path_factory.mktemp("stamped")
    for index in range(12):  # files of varied sizes and names
        path = base / "source" / "files" / f"dir{index % 3}" / f"file {index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(str(index).encode()).digest() * (index * 37 + 1))
    spec = base / "stamped.yaml"
    spec.write_text(SPEC.format(root=base), encoding="utf-8")
    private, public, _ = generate_key_pair(base / "keys" / "ledger")
    ledger = base / "evidence" / "ledger.jsonl"
    signer = load_signer(private)
    results = [run_drill(spec, base / "evidence" / "records", ledger=ledger, signer=signer,
                         tsa_url=tsa.url, environ={}) for _ in range(3)]
    return SimpleNamespace(base=base, ledger=ledger, public=public, private=private,
                           signer=signer, results=results, spec=spec)


def _entries(ledger: Path) -> list[dict]:
    return [json.loads(line) for _, line in read_lines(ledger)]


def _tampered_copy(stamped, tmp_path, change) -> Path:
    """A copy of the ledger (records beside it) whose last entry *change* rewrote."""
    import shutil
    shutil.copytree(stamped.ledger.parent, tmp_path / "evidence")
    ledger = tmp_path / "evidence" / "ledger.jsonl"
    entries = _entries(ledger)
    change(entries[-1], entries)
    ledger.write_bytes(b"".join(canonical(entry) + b"\n" for entry in entries))
    return ledger


def _resign(entry: dict, stamped) -> None:
    """What someone holding the signing key can do: sign the changed entry again."""
    entry["signature"] = stamped.signer.sign(signed_part(entry))


def _audit(ledger: Path, stamped, ca: Path, **options):
    return audit_ledger(ledger, load_public_key(stamped.public),
                        tsa_anchors=load_trust_anchors([ca]), **options)


def test_every_entry_carries_a_token_over_its_signed_bytes(stamped, tsa):
    entries = _entries(stamped.ledger)
    assert [entry["entry"] for entry in entries] == [1, 2, 3]
    for entry, result in zip(entries, stamped.results):
        stamp = entry["timestamp"]
        assert stamp["tsa"] == tsa.url and stamp["token"]
        assert stamp["entry_sha256"] == hashlib.sha256(stamped_part(entry)).hexdigest()
        assert result.ledger_entry.timestamped_at == stamp["gen_time"]
        assert result.ledger_entry.timestamp_error is None
        gen_time = datetime.fromisoformat(stamp["gen_time"])
        appended = datetime.fromisoformat(entry["appended_at"])
        assert abs(gen_time - appended) < timedelta(minutes=5)
    assert len({entry["timestamp"]["serial"] for entry in entries}) == 3


def test_a_good_ledger_verifies_with_the_tsa_trust_anchor(stamped, tsa):
    result = _audit(stamped.ledger, stamped, tsa.files.ca_file, require_timestamps=True)
    assert result.passed and result.entries == 3 and result.timestamps_verified == 3
    done = cli("audit", "verify", str(stamped.ledger), "--pubkey", str(stamped.public),
               "--tsa-ca", str(tsa.files.ca_file), "--require-timestamps")
    assert done.returncode == 0, done.stderr
    assert "3 entries" in done.stdout and "3 timestamp tokens verified" in done.stdout


def _back_date(entry: dict, _entries: list[dict]) -> None:
    entry["appended_at"] = (datetime.fromisoformat(entry["appended_at"])
                            - timedelta(days=30)).isoformat(timespec="microseconds")


def _alter_record(entry: dict, _entries: list[dict]) -> None:
    entry["record"]["operator"] = "someone-else"


def _foreign_token(entry: dict, entries: list[dict]) -> None:
    entry["timestamp"] = entries[0]["timestamp"]


@pytest.mark.parametrize("change, restamp, reason", [
    (_back_date, False, "the timestamp token is for another hash: the entry was altered "
                        "after it was stamped"),
    (_back_date, True, "before the TSA's time"),
    (_alter_record, False, "the timestamp token is for another hash"),
    (_foreign_token, False, "the timestamp token is for another hash"),
])
def test_a_back_dated_or_altered_entry_or_a_foreign_token_fails_at_its_line(
        stamped, tsa, tmp_path, change, restamp, reason):
    """Even the holder of the signing key cannot re-date or change a stamped entry."""
    def rewrite(entry, entries):
        change(entry, entries)
        if change is not _foreign_token:
            _resign(entry, stamped)
        if restamp:
            data = stamped_part(entry)
            entry["timestamp"] = TimestampAuthority(tsa.url).stamp(
                hashlib.sha256(data).digest(), data)

    ledger = _tampered_copy(stamped, tmp_path, rewrite)
    plain = audit_ledger(ledger, load_public_key(stamped.public))
    assert plain.passed  # signature and chain alone cannot tell
    result = _audit(ledger, stamped, tsa.files.ca_file)
    assert not result.passed and result.failure.line == 3 and result.entries == 2
    assert reason in result.failure.reason
    done = cli("audit", "verify", str(ledger), "--pubkey", str(stamped.public), "--tsa-ca",
               str(tsa.files.ca_file))
    assert done.returncode == 1
    assert done.stderr.startswith(f"exitkit: audit failed: {ledger}:3: ")


def test_a_token_from_an_untrusted_tsa_fails(stamped, tmp_path):
    stranger = make_test_ca(tmp_path / "stranger")
    result = _audit(stamped.ledger, stamped, stranger.ca_file)
    assert not result.passed and result.failure.line == 1
    assert result.failure.reason == ("the timestamp token does not verify: its certificate "
                                     "does not chain to the given TSA trust anchor")


def test_a_damaged_token_fails(stamped, tsa, tmp_path):
    def damage(entry, _entries):
        token = bytearray(base64.b64decode(entry["timestamp"]["token"]))
        token[len(token) // 2] ^= 0x01
        entry["timestamp"]["token"] = base64.b64encode(bytes(token)).decode()

    result = _audit(_tampered_copy(stamped, tmp_path, damage), stamped, tsa.files.ca_file)
    assert not result.passed and result.failure.line == 3
    assert result.failure.reason.startswith(("the timestamp token is damaged",
                                             "the timestamp token does not verify"))


def test_an_unreachable_tsa_keeps_the_record_and_marks_the_entry(stamped, tsa, tmp_path):
    """The drill's exit code stays its verdict's; a warning names the entry; the audit
    lists it, and fails it only with --require-timestamps."""
    import shutil
    shutil.copytree(stamped.ledger.parent, tmp_path / "evidence")
    ledger = tmp_path / "evidence" / "ledger.jsonl"
    records = tmp_path / "evidence" / "records"
    before = len(list(records.glob("stamped-*.json")))
    dead = f"http://127.0.0.1:{free_port()}/tsa"
    done = cli("drill", "run", str(stamped.spec), "-r", str(records), "--ledger", str(ledger),
               "--signing-key", str(stamped.private), "--tsa", dead)
    assert done.returncode == 0, done.stderr
    assert (f"exitkit: warning: ledger entry 4 is not timestamped: TSA {dead} unreachable "
            f"(ConnectionError); the record and the entry are kept") in done.stderr
    assert len(list(records.glob("stamped-*.json"))) == before + 1
    last = _entries(ledger)[-1]
    assert last["entry"] == 4 and last["timestamp"] == {
        "tsa": dead, "token": None, "error": f"TSA {dead} unreachable (ConnectionError)"}
    result = _audit(ledger, stamped, tsa.files.ca_file)
    assert result.passed and result.timestamps_verified == 3 and result.untimestamped == (4,)
    required = _audit(ledger, stamped, tsa.files.ca_file, require_timestamps=True)
    assert required.failure.line == 4
    assert required.failure.reason == (f"the entry has no timestamp token (TSA {dead} "
                                       f"unreachable (ConnectionError))")


def test_a_tsa_that_is_not_a_url_is_exit_2(stamped, tmp_path):
    done = cli("drill", "run", str(stamped.spec), "-r", str(tmp_path), "--ledger",
               str(tmp_path / "l.jsonl"), "--signing-key", str(stamped.private), "--tsa",
               "tsa.example")
    assert done.returncode == 2
    assert done.stderr == "exitkit: error: --tsa: 'tsa.example' is not an http(s) URL\n"
    assert not list(tmp_path.glob("*.json"))
