"""Write the assessment's JSON Schema to ``docs/assessment.schema.json``:
``python -m exitkit.assess.schema``."""

import json
import sys
from pathlib import Path

from exitkit.assess.model import ASSESSMENT_SCHEMA_VERSION, Assessment

SCHEMA_ID = "https://exitkit.example/schemas/assessment.schema.json"


def assessment_schema() -> dict:
    """The JSON Schema of :class:`Assessment`, with its id and schema version."""
    schema = Assessment.model_json_schema()
    schema["$id"] = SCHEMA_ID
    schema["x-schema-version"] = ASSESSMENT_SCHEMA_VERSION
    return schema


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/assessment.schema.json")
    target.write_text(json.dumps(assessment_schema(), indent=2, ensure_ascii=False) + "\n")
