"""Write the record's JSON Schema to ``docs/record.schema.json``: ``python -m exitkit.evidence.schema``."""

import json
import sys
from pathlib import Path

from exitkit.evidence.record import RECORD_SCHEMA_VERSION, DrillRecord

SCHEMA_ID = "https://exitkit.example/schemas/record.schema.json"


def record_schema() -> dict:
    """The JSON Schema of :class:`DrillRecord`, with its id and schema version."""
    schema = DrillRecord.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    schema["x-schema-version"] = RECORD_SCHEMA_VERSION
    return schema


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/record.schema.json")
    target.write_text(json.dumps(record_schema(), indent=2, ensure_ascii=False) + "\n")
    print(target)
