"""Requirements as data: which record fields and expectations evidence which regulatory
requirement (files in ``compliance/``), and the per-requirement report of a record."""
