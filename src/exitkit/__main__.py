"""Allow ``python -m exitkit``."""

from exitkit.cli import app

app()
