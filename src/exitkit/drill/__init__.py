"""Drill specs, phases and the runner that executes them."""
