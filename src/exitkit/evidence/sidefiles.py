"""JSON Lines files written beside a record (differences, manifest).

They are written under a hidden partial name and renamed into place only when complete,
before the record itself, so a record never points at a half-written file.
"""

import json
import os
from pathlib import Path
from typing import Any, TextIO


def json_line(entry: dict[str, Any]) -> str:
    """The canonical one-line JSON form of *entry* (sorted keys, no spaces, UTF-8)."""
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class SideFile:
    """A JSON Lines file that becomes visible under its final name on :meth:`commit`."""

    def __init__(self, directory: Path, name: str, stage: str = "partial") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.final = directory / name
        self.partial = directory / f".{name}.{stage}"
        self._handle: TextIO = self.partial.open("w", encoding="utf-8")
        self.lines = 0

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry."""
        self.write_line(json_line(entry))

    def write_line(self, line: str) -> None:
        """Append one line that is already canonical JSON."""
        self._handle.write(line + "\n")
        self.lines += 1

    def write_lines(self, lines: list[str]) -> None:
        """Append lines that are already canonical JSON."""
        self._handle.write("\n".join(lines) + "\n")
        self.lines += len(lines)

    def read_back(self) -> TextIO:
        """Flush and reopen the partial file for reading (before commit or discard)."""
        self._handle.flush()
        return self.partial.open(encoding="utf-8")

    def commit(self) -> Path:
        """Flush, fsync and rename into place."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self.partial, self.final)
        return self.final

    def discard(self) -> None:
        """Drop the partial file."""
        self._handle.close()
        self.partial.unlink(missing_ok=True)
