"""Storage adapters on apache-libcloud behind one small contract (see :mod:`.contract`)."""
