"""exitkit: scripted, measured exit drills that prove data can leave a cloud provider.

The library API is :mod:`exitkit.api`; its ``__all__`` is re-exported here, loaded on first
use so that ``import exitkit`` (and every submodule) stays light:

>>> from exitkit import run_drill                                      # doctest: +SKIP
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name: str):
    """The names of :data:`exitkit.api.__all__` (and ``__all__`` itself), imported lazily."""
    if name.startswith("_") and name != "__all__":  # probes such as __path__, __wrapped__
        raise AttributeError(f"module 'exitkit' has no attribute {name!r}")
    api = importlib.import_module("exitkit.api")

    if name == "__all__":
        return ["__version__", *api.__all__]
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'exitkit' has no attribute {name!r}")
