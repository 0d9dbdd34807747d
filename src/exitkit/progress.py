"""Progress bars for a running drill on a terminal (a :class:`DrillObserver`)."""

import threading

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeElapsedColumn)

from exitkit.evidence.summary import human_bytes


class ProgressBars:
    """Shows one bar per phase; use as a context manager around the run."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[moved]}"), TimeElapsedColumn(),
            console=console, transient=False)
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> "ProgressBars":
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def phase_started(self, phase: str, total_objects: int | None, total_bytes: int | None) -> None:
        """Add a bar for *phase*."""
        with self._lock:
            self._tasks[phase] = self._progress.add_task(phase, total=total_objects, moved="",
                                                         nbytes=0)

    def advanced(self, phase: str, objects: int, nbytes: int) -> None:
        """Advance *phase*'s bar."""
        with self._lock:
            task = self._tasks[phase]
            total = self._progress.tasks[task].fields["nbytes"] + nbytes
            self._progress.update(task, advance=objects, nbytes=total, moved=human_bytes(total))

    def phase_finished(self, phase: str) -> None:
        """Mark *phase* complete."""
        with self._lock:
            task = self._tasks[phase]
            done = self._progress.tasks[task].completed
            self._progress.update(task, total=done, completed=done)

    def noted(self, phase: str, message: str) -> None:
        """Print *message* above the bars."""
        self._progress.console.print(f"[bold]{phase}[/bold]: {message}", highlight=False)


class NotesOnly:
    """An observer for runs without progress bars that still prints :meth:`noted` lines."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def phase_started(self, phase: str, total_objects: int | None, total_bytes: int | None) -> None:
        """Ignore."""

    def advanced(self, phase: str, objects: int, nbytes: int) -> None:
        """Ignore."""

    def phase_finished(self, phase: str) -> None:
        """Ignore."""

    def noted(self, phase: str, message: str) -> None:
        """Print *message*."""
        self._console.print(f"{phase}: {message}", markup=False, highlight=False, soft_wrap=True)
