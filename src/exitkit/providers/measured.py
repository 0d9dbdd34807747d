"""Capabilities measured by ``exitkit probe``, saved as JSON and read back for a drill.

The file holds every :class:`Capabilities` field under ``capabilities``; a field the file
does not name keeps its zero value (not held), so a partial file never over-claims.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

from exitkit.errors import SpecError
from exitkit.providers.contract import Capabilities

_FIELDS = {field.name: field for field in dataclasses.fields(Capabilities)}


def capabilities_to_json(capabilities: Capabilities) -> dict[str, Any]:
    """Every field as JSON (sets as sorted lists)."""
    return {name: sorted(value) if isinstance(value, frozenset) else value
            for name, value in dataclasses.asdict(capabilities).items()}


def load_capabilities(path: Path, spec_path: str, field: str) -> Capabilities:
    """Read a probe file; a bad file is a SpecError naming *field* of the spec."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        values = document["capabilities"]
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown capabilities {', '.join(unknown)}")
        return Capabilities(**{name: frozenset(value) if isinstance(value, list) else value
                               for name, value in values.items()})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpecError(spec_path, None, field,
                        f"cannot read measured capabilities from {path}: "
                        f"{type(exc).__name__}: {exc}") from None
