"""Match a workload's vCPUs and memory to a provider's compute sizes, with prices.

Used for VMs (an EC2 instance type's shape) and for containers (their CPU and memory
requests). A size *fits* when it has at least the vCPUs, memory and GPUs asked for; the
*nearest* fitting size is the one with the least over-provisioning, measured as the sum of
the relative excess in vCPUs and in memory; among equally near sizes the cheapest wins
(then the name, so the answer is stable). GPU sizes are offered only to GPU workloads.

A month is the provider's own monthly price where the catalog has one (usually a cap on
hourly billing), otherwise 730 hours at the hourly price.
"""

from datetime import date

from exitkit.catalog.model import CatalogEntry, ComputeSize, ExchangeRates
from exitkit.evidence.record_base import Model

HOURS_PER_MONTH = 730


class PricedSize(Model):
    """One catalog compute size with its price per hour and per month, as listed and in EUR."""

    catalog: str
    name: str
    vcpus: float
    memory_gib: float
    gpus: int
    currency: str
    price_hour: float
    price_month: float
    price_hour_eur: float
    price_month_eur: float
    source: str
    as_of: date


def priced_size(entry: CatalogEntry, size: ComputeSize, fx: ExchangeRates) -> PricedSize:
    """*size* of *entry* with hourly and monthly prices in the entry's currency and EUR."""
    hour = size.price_hour.price if size.price_hour else size.price_month.price / HOURS_PER_MONTH
    month = size.price_month.price if size.price_month else size.price_hour.price * HOURS_PER_MONTH
    quoted = size.price_month or size.price_hour
    rate = 1.0 if entry.currency == "EUR" else fx.rates[entry.currency].eur
    return PricedSize(catalog=entry.name, name=size.name, vcpus=size.vcpus,
                      memory_gib=size.memory_gib, gpus=size.gpus, currency=entry.currency,
                      price_hour=round(hour, 6), price_month=round(month, 4),
                      price_hour_eur=round(hour * rate, 6), price_month_eur=round(month * rate, 4),
                      source=quoted.source, as_of=quoted.as_of)


def size_named(entry: CatalogEntry, name: str, fx: ExchangeRates) -> PricedSize | None:
    """The size called *name* in *entry*, priced; None when the catalog does not list it."""
    for size in entry.compute_sizes:
        if size.name == name:
            return priced_size(entry, size, fx)
    return None


def nearest_size(entry: CatalogEntry, vcpus: float, memory_gib: float, *, fx: ExchangeRates,
                 gpus: int = 0) -> PricedSize | None:
    """The nearest size of *entry* with at least *vcpus*, *memory_gib* and *gpus*, priced.

    None when no size fits. *vcpus* and *memory_gib* must be positive.
    """
    if vcpus <= 0 or memory_gib <= 0:
        raise ValueError("vcpus and memory_gib must be positive")
    fitting = [size for size in entry.compute_sizes
               if size.vcpus >= vcpus and size.memory_gib >= memory_gib and size.gpus >= gpus
               and (gpus > 0 or size.gpus == 0)]
    if not fitting:
        return None
    candidates = [priced_size(entry, size, fx) for size in fitting]
    return min(candidates, key=lambda size: (
        round(size.vcpus / vcpus + size.memory_gib / memory_gib, 9), size.price_month,
        size.name))
