"""JUnit XML: each expectation a test case, so CI systems show drills like tests."""

import xml.etree.ElementTree as ET

from exitkit.evidence.record import DrillRecord
from exitkit.evidence.scope_text import provenance_rows
from exitkit.evidence.summary import bound_text, present_text, verified_text


def render_junit(record: DrillRecord) -> str:
    """One test suite ``exitkit.<drill>``: a case per expectation, an error case on error."""
    name = f"exitkit.{record.drill.name}"
    failures = [result for result in record.expectations if not result.passed]
    errored = record.verdict == "error"
    counts = {"tests": str(len(record.expectations) + errored), "failures": str(len(failures)),
              "errors": str(int(errored)), "skipped": "0", "time": f"{record.duration_s:.3f}"}
    suites = ET.Element("testsuites", name="exitkit", **counts)
    suite = ET.SubElement(suites, "testsuite", name=name, **counts,
                          timestamp=record.started_at.isoformat(), hostname=record.host)
    properties = ET.SubElement(suite, "properties")
    facts = [("run_id", record.run_id), ("verdict", record.verdict),
             ("source", f"{record.source.provider} {record.source.bucket}"),
             ("target", f"{record.target.provider} {record.target.bucket}")]
    if record.verification:
        facts += [("present", present_text(record.verification)),
                  ("verified", verified_text(record.verification))]
        if record.verification.sample:
            facts.append(("sample_bound", bound_text(record.verification.sample)))
    if record.scope:
        scope = record.scope
        facts += [("scope.contract_ref", scope.contract_ref),
                  ("scope.ict_service", scope.ict_service), ("scope.function", scope.function),
                  ("scope.exit_plan", f"{scope.exit_plan.id}@{scope.exit_plan.version}"),
                  ("scope.scenario", scope.scenario), ("scope.test_type", scope.test_type),
                  ("scope.owner", scope.owner)]
    if record.provenance:
        facts += [(f"provenance.{label.replace(' ', '_')}", value)
                  for label, value in provenance_rows(record)]
    for key, value in facts:
        ET.SubElement(properties, "property", name=key, value=value)
    for result in record.expectations:
        case = ET.SubElement(suite, "testcase", classname=name, name=result.name, time="0")
        if not result.passed:
            message = f"expected {result.expected}, measured {result.measured}"
            ET.SubElement(case, "failure", message=message, type="expectation").text = message
    if errored:
        case = ET.SubElement(suite, "testcase", classname=name, name="drill",
                             time=f"{record.duration_s:.3f}")
        error = ET.SubElement(case, "error", message=record.errors[0] if record.errors else
                              "the drill could not reach a verdict", type="drill")
        error.text = "\n".join(record.errors)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
