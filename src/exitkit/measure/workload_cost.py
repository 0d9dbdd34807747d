"""Price a workload by the CPU and memory it asks for: the smallest catalog size that
holds it, where it runs now and on the target, per month."""

from exitkit.catalog.load import Catalog
from exitkit.catalog.model import CatalogEntry
from exitkit.drill.workload_spec import Resources
from exitkit.evidence.workload_record import SizePrice, WorkloadCost
from exitkit.measure.sizing import nearest_size

GIB = 2**30


class WorkloadPricing:
    """Prices workloads against a source and a target catalog entry (either may be None)."""

    def __init__(self, catalog: Catalog, entries: tuple[CatalogEntry | None,
                                                        CatalogEntry | None]) -> None:
        self.catalog = catalog
        self.source, self.target = entries

    def price(self, resources: Resources) -> WorkloadCost:
        """The monthly cost of *resources* on both sides, with what could not be priced."""
        memory_gib = resources.memory / GIB
        sides, missing = [], []
        for label, entry in (("source", self.source), ("target", self.target)):
            match = entry and nearest_size(entry, resources.cpus, memory_gib, fx=self.catalog.fx)
            if match is None:
                missing.append(f"no {label} catalog size holds {resources.cpus:g} vCPU and "
                               f"{memory_gib:g} GiB" if entry else f"no {label} catalog entry")
            sides.append(match and SizePrice(
                catalog=entry.name, size=match.name, vcpus=match.vcpus,
                memory_gib=match.memory_gib, monthly_eur=round(match.price_month_eur, 2),
                source=match.source, as_of=match.as_of.isoformat()))
        return WorkloadCost(cpus=resources.cpus, memory_gib=round(memory_gib, 3),
                            source=sides[0], target=sides[1], note="; ".join(missing))
