"""Evidence: the drill record, where it is written, and how it is summarised."""
