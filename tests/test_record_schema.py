"""The committed record JSON Schema is the one the code produces."""

import json
from pathlib import Path

from exitkit.evidence.schema import record_schema

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "record.schema.json"


def test_committed_schema_matches_the_model():
    committed = json.loads(SCHEMA.read_text())
    assert committed == record_schema(), "regenerate with: python -m exitkit.evidence.schema"
