"""The committed record JSON Schema is the one the code produces."""

import json
import subprocess
import sys
from pathlib import Path

from exitkit.evidence.schema import record_schema
from tests.conftest import RECORD_SCHEMA, schema_errors, unchecked_records

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "record.schema.json"


def test_committed_schema_matches_the_model():
    committed = json.loads(SCHEMA.read_text())
    assert committed == record_schema(), "regenerate with: python -m exitkit.evidence.schema"


def test_records_written_by_a_child_process_are_found_and_held_to_the_schema(tmp_path):
    """The autouse hook in conftest finds records wherever a test run writes them (here by
    ``exitkit drill run`` in a child process), and a record that breaks the schema fails
    it."""
    assert RECORD_SCHEMA == SCHEMA
    (tmp_path / "disk-a" / "records").mkdir(parents=True)
    (tmp_path / "disk-a" / "records" / "r.txt").write_bytes(b"record\n")
    spec = tmp_path / "local.yaml"
    spec.write_text(f"""\
version: 1
name: schema-check
source: {{provider: local, path: "{tmp_path / 'disk-a'}", bucket: records}}
target: {{provider: local, path: "{tmp_path / 'disk-b'}", bucket: records, create_bucket: true}}
""")
    done = subprocess.run([sys.executable, "-m", "exitkit", "drill", "run", str(spec), "-q",
                           "-r", str(tmp_path / "results")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    found = unchecked_records(tmp_path)
    assert [path.parent.name for path, _record in found] == ["results"]
    record = found[0][1]
    assert schema_errors(record) == []
    broken = {**record, "verdict": "probably"}
    del broken["run_id"]
    assert schema_errors(broken) == ["$.verdict: 'probably' is not one of ['passed', 'failed', "
                                     "'error']", "$: 'run_id' is a required property"]
