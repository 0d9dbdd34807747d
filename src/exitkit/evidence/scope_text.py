"""The scope and provenance of a record as label/value rows, shared by the terminal
summary and every report format."""

from exitkit.evidence.record import DrillRecord


def words(choice: str) -> str:
    """``provider_outage`` -> ``provider outage``."""
    return choice.replace("_", " ")


def scope_rows(record: DrillRecord) -> list[tuple[str, str]]:
    """What the run tested (empty for a record without a scope)."""
    scope = record.scope
    if scope is None:
        return []
    return [("contract (register of information)", scope.contract_ref),
            ("ICT service", scope.ict_service),
            ("critical or important function", scope.function),
            ("exit plan", f"{scope.exit_plan.id} version {scope.exit_plan.version}"),
            ("scenario", words(scope.scenario)), ("test type", words(scope.test_type)),
            ("owner", scope.owner)]


def provenance_rows(record: DrillRecord) -> list[tuple[str, str]]:
    """Clock, code, dependencies and retention (empty for a record before 1.6)."""
    found = record.provenance
    if found is None:
        return []
    synced = {True: "synchronised", False: "NOT synchronised", None: "sync unknown"}
    commit = found.exitkit_commit or "no git checkout"
    if found.exitkit_commit_dirty:
        commit += " (uncommitted changes)"
    retention = found.retention_class
    if found.object_lock_mode:
        retention += f" (Object Lock {found.object_lock_mode}, {found.object_lock_days} days)"
    return [("clock", f"{found.clock.source}, {synced[found.clock.synchronized]}: "
                      f"{found.clock.detail}"),
            ("exitkit", f"{found.exitkit_version}, commit {commit}"),
            ("dependencies", f"{len(found.dependencies)} packages, sha256 "
                             f"{found.dependencies_sha256}"),
            ("retention class", retention)]
