"""Judge a drill's measurements against the spec's expectations."""

from datetime import timedelta

from exitkit.drill.spec import Expectations
from exitkit.evidence.record import ExpectationResult, Verification


def _format_duration(value: timedelta) -> str:
    return f"{value.total_seconds():.1f}s"


def evaluate(expected: Expectations, verification: Verification | None,
             duration: timedelta) -> list[ExpectationResult]:
    """Return one result per expectation, each with what was measured."""
    results = []
    if verification is None:
        results.append(ExpectationResult(name="completeness",
                                         expected=f">= {expected.completeness:g}%",
                                         measured="not verified", passed=False))
    else:
        scope = verification.source_objects
        present = verification.counts["matched"] + verification.counts["not_sampled"]
        passed = present * 100 >= expected.completeness * scope
        missing = scope - present
        measured = f"{verification.completeness_objects_pct:g}% ({present}/{scope} objects"
        measured += f", {missing} missing or different)" if missing else ")"
        results.append(ExpectationResult(name="completeness",
                                         expected=f">= {expected.completeness:g}%",
                                         measured=measured, passed=passed))
    if expected.max_duration is not None:
        results.append(ExpectationResult(
            name="max_duration", expected=f"<= {_format_duration(expected.max_duration)}",
            measured=_format_duration(duration), passed=duration <= expected.max_duration))
    return results
