"""Where a drill's restores stand, from its journal and one HEAD per restore not copied.

Read-only: the journal is opened read-only (a running drill may hold it) and the source
gets nothing but HEAD requests.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from exitkit.drill.journal import journal_path, read_journal_with_restores
from exitkit.drill.spec_file import load_spec
from exitkit.errors import ExitkitError
from exitkit.providers.registry import open_restorer, open_source
from exitkit.providers.retrying import RetryingRestorer


@dataclass
class RestoreProgress:
    """Counts of a drill's requested restores: pending, ready (readable, not yet copied)
    and copied; ``keys`` gives the state of each (key, version id)."""

    drill: str
    run_id: str
    requested: int = 0
    pending: int = 0
    ready: int = 0
    copied: int = 0
    keys: list[dict[str, str | None]] = field(default_factory=list)


def restore_progress(spec_path: str | os.PathLike[str], results_dir: str | os.PathLike[str],
                     environ: Mapping[str, str] | None = None,
                     max_retries: int = 3) -> RestoreProgress:
    """The restores the journal of *spec_path*'s drill in *results_dir* holds, each
    classified copied (journal), ready or pending (HEAD ``x-amz-restore``)."""
    loaded = load_spec(spec_path, environ)
    path = journal_path(results_dir, loaded.spec.name)
    if not path.exists():
        raise ExitkitError(f"{path}: no journal: the drill '{loaded.spec.name}' has no "
                           f"interrupted or unfinished run in {results_dir}")
    header, copied, restores = read_journal_with_restores(path)
    restorer = open_restorer(open_source(loaded.spec.source, loaded.source_keys))
    restorer = restorer and RetryingRestorer(restorer, max_retries, lambda: None)
    progress = RestoreProgress(drill=header.drill, run_id=header.run_id,
                               requested=len(restores))
    for order, request in sorted(restores.items()):
        if order in copied:
            state = "copied"
        elif restorer is None:
            state = "pending"
        else:
            status = restorer.restore_status(request.key, request.version_id)
            state = "ready" if status.state == "ready" else "pending"
        setattr(progress, state, getattr(progress, state) + 1)
        progress.keys.append({"key": request.key, "version_id": request.version_id,
                              "storage_class": request.storage_class, "tier": request.tier,
                              "requested_at": request.requested_at, "state": state})
    return progress
