"""Map keys between the source prefix and the target prefix."""

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyMap:
    """A key relative to the drill's scope, and its full form on each side."""

    source_prefix: str
    target_prefix: str

    def relative(self, source_key: str) -> str:
        """The key without the source prefix."""
        return source_key[len(self.source_prefix):]

    def on_target(self, relative_key: str) -> str:
        """The full target key for a relative key."""
        return self.target_prefix + relative_key

    def on_source(self, relative_key: str) -> str:
        """The full source key for a relative key."""
        return self.source_prefix + relative_key
