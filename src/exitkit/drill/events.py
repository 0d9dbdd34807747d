"""What a running drill tells its observer: phases starting, advancing and finishing.

The CLI's progress bars are an observer; so is anything a library user wants to hook in.
"""

from typing import Protocol


class DrillObserver(Protocol):
    """Receives progress from a running drill; methods are called from worker threads."""

    def phase_started(self, phase: str, total_objects: int | None, total_bytes: int | None) -> None:
        """A phase begins; totals are None when not known in advance."""

    def advanced(self, phase: str, objects: int, nbytes: int) -> None:
        """*objects* more objects and *nbytes* more bytes are done in *phase*."""

    def phase_finished(self, phase: str) -> None:
        """A phase ended."""

    def noted(self, phase: str, message: str) -> None:
        """Something worth telling the operator at once (such as a teardown), one line."""


class SilentObserver:
    """An observer that ignores everything."""

    def phase_started(self, phase: str, total_objects: int | None, total_bytes: int | None) -> None:
        """Ignore."""

    def advanced(self, phase: str, objects: int, nbytes: int) -> None:
        """Ignore."""

    def phase_finished(self, phase: str) -> None:
        """Ignore."""

    def noted(self, phase: str, message: str) -> None:
        """Ignore."""
