"""exitkit: scripted, measured exit drills that prove data can leave a cloud provider."""

__version__ = "0.1.0"
