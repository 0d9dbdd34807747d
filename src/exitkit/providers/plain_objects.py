"""The contract's answers for stores whose objects carry no tags, no upload parts and no
Object Lock (GCS, rclone remotes, a local directory)."""


class PlainObjects:
    """``tags``, ``first_part_size`` and ``object_lock_enabled`` of such a store."""

    def tags(self, key: str, version_id: str | None = None) -> dict[str, str]:
        """No object tags: always empty."""
        return {}

    def first_part_size(self, key: str, version_id: str | None = None) -> int | None:
        """No upload parts to size (content is proven by digest): None."""
        return None

    def object_lock_enabled(self) -> bool:
        """No S3 Object Lock: False."""
        return False
