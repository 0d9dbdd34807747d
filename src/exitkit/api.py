"""The library API: everything the CLI does, callable from Python.

>>> from exitkit.api import run_drill
>>> result = run_drill("drills/demo.yaml", results_dir="results")   # doctest: +SKIP
>>> result.record.verdict, result.path                               # doctest: +SKIP
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exitkit.drill.events import DrillObserver
from exitkit.drill.runner import DrillRun
from exitkit.drill.spec_file import load_spec
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.store import write_record


@dataclass(frozen=True)
class DrillResult:
    """A finished run: its record and where the record was written."""

    record: DrillRecord
    path: Path

    @property
    def exit_code(self) -> int:
        """0 passed, 1 an expectation failed, 2 the drill could not reach a verdict."""
        return self.record.exit_code


def run_drill(spec_path: str | os.PathLike[str], results_dir: str | os.PathLike[str] = "results",
              observer: DrillObserver | None = None, verify_only: bool = False,
              environ: Mapping[str, str] | None = None) -> DrillResult:
    """Load *spec_path*, run the drill (or only its verification) and write the record.

    Raises :class:`exitkit.errors.ExitkitError` for bad specs and unreachable endpoints.
    """
    loaded = load_spec(spec_path, environ)
    record = DrillRun(loaded, results_dir, observer=observer, verify_only=verify_only).execute()
    return DrillResult(record=record, path=write_record(record, results_dir))
