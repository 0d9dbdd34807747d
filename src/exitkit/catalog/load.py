"""Load the provider catalog: packaged files, then the user's, which override by name.

User catalog directories come from ``EXITKIT_CATALOG`` (``:``-separated) and from the
callers' ``extra_dirs``; a file there with the same ``name`` replaces the packaged one,
and a ``fx.yaml`` there replaces the packaged exchange rates (a ``replacements.yaml``
there, the table of replacements for managed services).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exitkit.catalog.model import CatalogEntry, ExchangeRates, Replacements
from exitkit.errors import ExitkitError
from exitkit.resources import bundled_dir
from exitkit.yamlfile import read_yaml

CATALOG_ENV = "EXITKIT_CATALOG"
FX_FILE = "fx.yaml"
REPLACEMENTS_FILE = "replacements.yaml"


@dataclass
class Catalog:
    """All catalog entries by name, where each came from, and the exchange rates."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    fx: ExchangeRates = field(default_factory=lambda: ExchangeRates(rates={}))
    fx_origin: str = ""
    replacements: Replacements = field(default_factory=lambda: Replacements(services={}))
    replacements_origin: str = ""

    def get(self, name: str) -> CatalogEntry:
        """The entry called *name*; an ExitkitError lists the known names otherwise."""
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries))
            raise ExitkitError(f"no provider {name!r} in the catalog (known: {known})") from None

    def for_endpoint(self, provider: str, region: str | None) -> CatalogEntry | None:
        """The entry for a spec endpoint's provider and region, if the catalog has one."""
        for entry in self.entries.values():
            if entry.provider == provider and entry.region == region:
                return entry
        if provider in ("seaweedfs", "minio", "local"):
            return self.entries.get("self-hosted")
        return None


def catalog_dirs(extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """Directories searched, lowest precedence first."""
    from_env = [Path(part) for part in os.environ.get(CATALOG_ENV, "").split(":") if part]
    return [bundled_dir("providers"), *from_env, *map(Path, extra_dirs)]


def load_catalog(extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> Catalog:
    """Read every catalog directory; later directories override earlier ones by name."""
    catalog = Catalog()
    for directory in catalog_dirs(extra_dirs):
        if not directory.is_dir():
            raise ExitkitError(f"{directory}: catalog directory does not exist")
        for path in sorted(directory.glob("*.yaml")):
            document = read_yaml(path, "catalog file")
            if path.name == FX_FILE:
                catalog.fx = document.validate(ExchangeRates)
                catalog.fx_origin = str(path)
                continue
            if path.name == REPLACEMENTS_FILE:
                catalog.replacements = document.validate(Replacements)
                catalog.replacements_origin = str(path)
                continue
            entry = document.validate(CatalogEntry)
            catalog.entries[entry.name] = entry
            catalog.origins[entry.name] = str(path)
    return catalog
