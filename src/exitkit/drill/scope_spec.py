"""The regulatory scope of a drill (spec ``scope``): which contract, service, function and
exit plan it tests, under which scenario, by which kind of test, and who owns it.

The scope is copied into the record as it is and signed with it; reports show it, the
history filters by it, and the requirement mappings in ``compliance/`` read it.
"""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from exitkit.drill.spec_base import Strict

SCENARIOS = ("provider_outage", "failed_delivery", "unexpected_termination", "planned_exit")
TEST_TYPES = ("tabletop", "partial_drill", "full_drill")


def normalised_choice(value: object) -> object:
    """``Provider outage`` and ``provider-outage`` mean ``provider_outage``."""
    if isinstance(value, str):
        return value.strip().lower().replace("-", "_").replace(" ", "_")
    return value


Scenario = Annotated[Literal["provider_outage", "failed_delivery", "unexpected_termination",
                             "planned_exit"], BeforeValidator(normalised_choice)]
TestType = Annotated[Literal["tabletop", "partial_drill", "full_drill"],
                     BeforeValidator(normalised_choice)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class ExitPlan(Strict):
    """The exit plan this drill tests, by its identifier and version."""

    id: Text
    version: Text


class Scope(Strict):
    """What the drill tests, in the terms of DORA's register of information."""

    contract_ref: Text = Field(description="the contractual arrangement's reference in the "
                                           "DORA register of information")
    ict_service: Text = Field(description="the ICT service the contract provides")
    function: Text = Field(description="the critical or important function the ICT service "
                                       "supports")
    exit_plan: ExitPlan
    scenario: Scenario = Field(description="provider_outage, failed_delivery, "
                                           "unexpected_termination or planned_exit")
    test_type: TestType = Field(description="tabletop, partial_drill or full_drill")
    owner: Text = Field(description="who owns the exit plan and answers for this test")
