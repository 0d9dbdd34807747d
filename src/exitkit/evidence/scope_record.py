"""Record parts that place a run for an auditor: its regulatory scope (what it tests) and
its provenance (which clock timed it, which code and dependencies ran it, how long the
record must be kept)."""

from typing import Literal

from pydantic import Field

from exitkit.evidence.record_base import Model


class ExitPlanRecord(Model):
    """The exit plan tested, by identifier and version."""

    id: str
    version: str


class ScopeRecord(Model):
    """The spec's ``scope``: the contract, service, function and exit plan this run tests."""

    contract_ref: str = Field(description="reference of the contractual arrangement in the "
                                          "DORA register of information")
    ict_service: str
    function: str = Field(description="the critical or important function supported")
    exit_plan: ExitPlanRecord
    scenario: Literal["provider_outage", "failed_delivery", "unexpected_termination",
                      "planned_exit"]
    test_type: Literal["tabletop", "partial_drill", "full_drill"]
    owner: str


class ClockRecord(Model):
    """The host clock that timed the run, as far as the host can tell."""

    source: str = Field(description="chrony, systemd-timesyncd, kernel (adjtimex) or unknown")
    synchronized: bool | None = Field(description="the clock was synchronised to a reference "
                                                  "when the run ended; None: unknown")
    detail: str = Field(description="what the source reported (stratum, offset, error)")


class ProvenanceRecord(Model):
    """Where the record came from: clock, code, dependencies, retention."""

    clock: ClockRecord
    exitkit_version: str
    exitkit_commit: str | None = Field(description="git commit of the exitkit source, when "
                                                   "run from a checkout")
    exitkit_commit_dirty: bool | None = Field(default=None, description="the checkout had "
                                              "uncommitted changes")
    dependencies: list[str] = Field(description="exitkit's requirements as installed, "
                                                "name==version, sorted")
    dependencies_sha256: str = Field(description="SHA-256 of the dependency lines joined "
                                                 "by newlines")
    retention_class: str = Field(description="spec evidence.retention_class, or "
                                             "'unclassified'")
    object_lock_mode: str | None = Field(default=None, description="the Object Lock "
                                         "retention that class asks of the evidence store")
    object_lock_days: int | None = None
