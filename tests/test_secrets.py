"""Known secrets planted in the environment appear in no output file and no output stream."""

import secrets

from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.evidence.signing import generate_key_pair
from tests.helpers import exitkit


def test_planted_secrets_reach_no_file_and_no_stream(source_client, bucket_name, write_spec,
                                                     server_env, tmp_path, seaweed):
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, list(demo_objects(30)))
    planted_source = f"PLANTED-source-{secrets.token_hex(12)}"  # moto accepts any secret
    planted_wrong = f"PLANTED-wrong-{secrets.token_hex(12)}"
    private, public, _ = generate_key_pair(tmp_path / "keys" / "ledger")
    pem = private.read_text()
    key_body = "".join(pem.strip().splitlines()[1:-1])
    env = {**server_env, "SRC_SECRET": planted_source, "EXITKIT_SIGNING_KEY": pem}
    out = tmp_path / "out"
    ledger = str(out / "ledger.jsonl")
    spec = str(write_spec(bucket, bucket_name("tgt")))
    runs = [
        exitkit("drill", "run", spec, "-r", str(out / "records"), "--ledger", ledger, env=env),
        exitkit("verify", spec, "-r", str(out / "records"), "--ledger", ledger, "--json",
                env=env),
        exitkit("drill", "run", spec, "-r", str(out / "records"), "--ledger", ledger,
                env={**env, "TGT_SECRET": planted_wrong}),
        exitkit("history", "--ledger", ledger, env=env),
        exitkit("audit", "verify", ledger, "--pubkey", str(public), env=env),
    ]
    for report_format in ("html", "md", "junit", "prom"):
        runs.append(exitkit("report", ledger, "--format", report_format, env=env))
        runs.append(exitkit("report", ledger, "--format", report_format, "-o",
                            str(out / f"report.{report_format}"), env=env))
    assert [run.returncode for run in runs[:5]] == [0, 0, 2, 0, 0], [r.stderr for r in runs]
    assert "access denied" in runs[2].stderr
    assert all(run.returncode == 0 for run in runs[5:])
    streams = [text for run in runs for text in (run.stdout, run.stderr)]
    files = sorted(path for path in out.rglob("*") if path.is_file())
    records = sorted(path.name for path in (out / "records").glob("*.json"))
    assert len(records) == 2  # the drill and the verify run; the refused run wrote none
    stems = [name.removesuffix(".json") for name in records]
    assert sorted(str(path.relative_to(out)) for path in files) == sorted(
        ["ledger.jsonl", "ledger.jsonl.lock", "records/test-drill.journal.sqlite.lock",
         *(f"report.{fmt}" for fmt in ("html", "md", "junit", "prom")),
         *(f"records/{stem}{suffix}" for stem in stems
           for suffix in (".json", ".differences.jsonl", ".manifest.jsonl"))])
    contents = streams + [path.read_bytes().decode("utf-8", "replace") for path in files]
    for secret in (planted_source, planted_wrong, seaweed.secret_key, key_body):
        assert not [text for text in contents if secret in text], secret[:12]
    assert any(bucket in text for text in contents)  # the search does look at real content
