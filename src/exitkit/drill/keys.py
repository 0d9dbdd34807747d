"""Map keys between the source prefix and the target prefix."""

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyMap:
    """The prefixes that put a key relative to the drill's scope on each side."""

    source_prefix: str
    target_prefix: str

    def on_target(self, relative_key: str) -> str:
        """The full target key for a relative key."""
        return self.target_prefix + relative_key
