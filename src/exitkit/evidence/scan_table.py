"""Terminal views of ``exitkit scan`` (what the source holds, what the exit would lose)
and ``exitkit probe`` (what the target holds, measured)."""

from rich.console import Group
from rich.table import Table
from rich.text import Text

from exitkit.drill.probe import ProbeReport
from exitkit.drill.scan import ScanReport
from exitkit.evidence.summary import human_bytes

_HOLDS = {"object_lock": ("object_lock",), "legal_hold": ("legal_hold",),
          "website_redirect": ("website_redirect",), "encryption": ("sse_s3",),
          "tags": ("tags",), "metadata": ("user_metadata",)}


def _source_count(report: ScanReport, name: str) -> int:
    census = report.census
    return {"object_lock": sum(census.lock_modes.values()), "legal_hold": census.legal_holds,
            "website_redirect": census.redirects,
            "encryption": census.objects - (census.encryption["none"].objects
                                            if "none" in census.encryption else 0),
            "storage_class": sum(count.objects for name, count in
                                 census.storage_classes.items() if name != "STANDARD"),
            "checksum": sum(census.checksums.values()), "tags": census.tagged,
            "metadata": census.with_metadata}[name]


def render_scan(report: ScanReport, accepted: dict[str, str]) -> Group:
    """Counts on the source, key hazards, and the "what this exit would lose" table."""
    census = report.census
    parts = [Text.assemble(("Scan ", "bold"), report.source, " -> ", report.target,
                           f"  (target capabilities: {report.capabilities})"),
             Text(f"{report.objects} objects, {human_bytes(report.bytes)}; "
                  f"{report.versions} noncurrent versions, {report.delete_markers} delete "
                  f"markers")]
    held = Table(title="On the source", title_justify="left")
    held.add_column("feature")
    held.add_column("objects", justify="right")
    for name, count in census.encryption.items():
        held.add_row(f"encryption {name}", f"{count.objects} ({human_bytes(count.bytes)})")
    for key in census.kms_keys:
        held.add_row(f"KMS key {key.key_id} (exit dependency)",
                     f"{key.objects} ({human_bytes(key.bytes)})")
    for name, count in census.storage_classes.items():
        held.add_row(f"storage class {name}", f"{count.objects} ({human_bytes(count.bytes)})")
    for mode, count in census.lock_modes.items():
        held.add_row(f"retention {mode}", str(count))
    for label, count in (("legal holds", census.legal_holds), ("redirects", census.redirects),
                         ("tagged", census.tagged), ("user metadata", census.with_metadata)):
        held.add_row(label, str(count))
    for name, count in census.checksums.items():
        held.add_row(f"checksum {name}", str(count))
    for name, count in census.content_encodings.items():
        held.add_row(f"Content-Encoding {name}", str(count))
    if census.refused:
        held.add_row("HEAD refused (e.g. SSE-C without key): not counted", str(census.refused))
    for name, count in report.key_hazards.items():
        held.add_row(f"keys: {name.replace('_', ' ')}", str(count))
    parts.append(held)
    losses = Table(title="What this exit would lose", title_justify="left")
    for column in ("property", "on source", "target holds", "objects lost", "bytes lost",
                   "accepted"):
        losses.add_column(column, justify="left" if column in ("property", "accepted")
                          else "right", no_wrap=column == "property")
    capabilities = report.target_capabilities
    for row in report.losses:
        fields = _HOLDS.get(row.property)
        if fields:
            holds = "yes" if all(capabilities.get(f) for f in fields) else "no"
        else:  # storage classes, checksums: held unless some object lost them
            holds = "no" if row.objects_lost else "yes"
        losses.add_row(row.property, str(_source_count(report, row.property)), holds,
                       str(row.objects_lost), human_bytes(row.bytes_lost),
                       accepted.get(row.property, "") if row.objects_lost else "",
                       style="red" if row.objects_lost and row.property not in accepted
                       else None)
    parts.append(losses)
    return Group(*parts)


def render_probe(report: ProbeReport) -> Group:
    """The measured capability table and where it differs from the profile."""
    table = Table(title=f"Measured on {report.target} (under {report.prefix})",
                  title_justify="left")
    for column in ("check", "held", "detail"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        table.add_row(check.name, "yes" if check.held else "no", check.detail,
                      style=None if check.held else "yellow")
    parts = [table]
    if report.differences_from_profile:
        differences = Table(title="Differs from the provider profile", title_justify="left")
        for column in ("capability", "profile", "measured"):
            differences.add_column(column, overflow="fold")
        for item in report.differences_from_profile:
            differences.add_row(item.capability, str(item.profile), str(item.measured))
        parts.append(differences)
    parts.append(Text(f"cleanup: {report.deleted_versions} probe versions deleted, "
                      f"{report.remaining_after_cleanup} still listed"))
    return Group(*parts)
