"""A framework's requirements checked against one drill record.

Each requirement ends up ``passed`` (every piece of evidence it needs is in the record and
holds), ``failed`` (a piece of evidence is there and does not hold) or ``not_covered``
(the record lacks evidence the requirement needs, a precondition such as the scenario
does not hold for this run, or a drill cannot evidence it at all).
Every piece of evidence found is named by its location: the record file (or ledger entry)
and the JSON path in it.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from exitkit.compliance.model import Evidence, Framework, Requirement, expectation_matches
from exitkit.errors import ExitkitError
from exitkit.evidence.history import is_ledger
from exitkit.evidence.ledger import read_entries
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.store import read_record

Status = Literal["passed", "failed", "not_covered"]
Outcome = Literal["passed", "failed", "absent", "not_applicable"]
_SHOWN_CHARACTERS = 80


@dataclass(frozen=True)
class EvidenceFinding:
    """One piece of evidence as the record holds it."""

    evidence: Evidence
    outcome: Outcome
    found: str | None = None
    locations: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequirementFinding:
    """One requirement and what the record evidences of it."""

    requirement: Requirement
    status: Status
    evidence: list[EvidenceFinding] = field(default_factory=list)


@dataclass(frozen=True)
class FrameworkReport:
    """A framework's requirements against one run."""

    framework: Framework
    drill: str
    run_id: str
    verdict: str
    source: str
    requirements: list[RequirementFinding] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """How many requirements have *status*."""
        return sum(finding.status == status for finding in self.requirements)


def assess(framework: Framework, record: DrillRecord, source: str,
           json_prefix: str = "$") -> FrameworkReport:
    """Check *framework* against *record*; *source* names where the record is (file or
    ledger entry) and *json_prefix* the JSON path of the record there (``$`` in a record
    file, ``$.record`` in a ledger entry)."""
    document = json.loads(record.to_json())
    findings = [_requirement(requirement, record, document, source, json_prefix)
                for requirement in framework.requirements]
    return FrameworkReport(framework, record.drill.name, record.run_id, record.verdict, source,
                           findings)


def _requirement(requirement: Requirement, record: DrillRecord, document: dict, source: str,
                 prefix: str) -> RequirementFinding:
    found = [_evidence(evidence, record, document, source, prefix)
             for evidence in requirement.evidence]
    if any(finding.outcome == "not_applicable" for finding in found):
        status: Status = "not_covered"
    elif any(finding.outcome == "failed" for finding in found):
        status = "failed"
    elif not found or any(finding.outcome == "absent" and not finding.evidence.optional
                          for finding in found):
        status = "not_covered"
    else:
        status = "passed"
    return RequirementFinding(requirement, status, found)


def _evidence(evidence: Evidence, record: DrillRecord, document: dict, source: str,
              prefix: str) -> EvidenceFinding:
    if evidence.expectation is not None:
        matching = [(index, result) for index, result in enumerate(record.expectations)
                    if expectation_matches(evidence.expectation, result.name)]
        if not matching:
            return EvidenceFinding(evidence, "absent")
        passed = all(result.passed for _index, result in matching)
        shown = "; ".join(f"{result.name}: {result.measured} (expected {result.expected})"
                          for _index, result in matching)
        return EvidenceFinding(evidence, "passed" if passed else "failed", _short(shown),
                               tuple(f"{source}: {prefix}.expectations[{index}]"
                                     for index, _result in matching))
    value = _resolve(document, evidence.path)
    if value is None:
        return EvidenceFinding(evidence, "absent")
    failed = "not_applicable" if evidence.precondition else "failed"
    return EvidenceFinding(evidence, "passed" if _holds(evidence, value) else failed,
                           _short(json.dumps(value, ensure_ascii=False, default=str)),
                           (f"{source}: {prefix}.{evidence.path}",))


def _resolve(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _holds(evidence: Evidence, value: Any) -> bool:
    if evidence.equals is not None and value != evidence.equals:
        return False
    if evidence.one_of is not None and value not in evidence.one_of:
        return False
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if evidence.at_least is not None and (number is None or number < evidence.at_least):
        return False
    if evidence.at_most is not None and (number is None or number > evidence.at_most):
        return False
    return True


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARACTERS else text[:_SHOWN_CHARACTERS - 1] + "…"


def assess_file(framework: Framework, path: str, drill: str | None = None) -> FrameworkReport:
    """Check *framework* against a record file, or a ledger's latest run (of *drill*)."""
    if not is_ledger(path):
        try:
            record = read_record(path)
        except ValueError:
            raise ExitkitError(f"{path}: neither a drill record nor a ledger") from None
        return assess(framework, record, str(path))
    latest = None
    for entry in read_entries(path):
        if drill is None or entry.record.drill.name == drill:
            latest = entry
    if latest is None:
        raise ExitkitError(f"{path}: no runs" + (f" of drill {drill!r}" if drill else ""))
    return assess(framework, latest.record, f"{path} entry {latest.number}", "$.record")
