"""Find files shipped with exitkit: the bundled drill specs.

In a wheel they live in ``exitkit/_data``; in a source checkout (editable install) they
are the repository's top-level folders.
"""

from importlib.resources import files
from pathlib import Path


def bundled_dir(name: str) -> Path:
    """The directory of bundled *name* files (``drills``), wheel or checkout."""
    packaged = Path(str(files("exitkit") / "_data" / name))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name
