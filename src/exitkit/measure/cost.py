"""What a drill cost and what a full exit would cost, under each switching-charge regime.

Prices come from the catalog (each with its source and date); amounts are in EUR, with
USD converted at the catalog's recorded rate. GB means 2^30 bytes, as providers bill.

Regimes, side by side:

* ``list``: the providers' list prices.
* ``data-act``: EU Data Act switching. Until 2027-01-12 switching charges, egress
  included, may be at most at cost (exitkit cannot know the provider's cost, so the list
  egress price stands as the ceiling); from 2027-01-12 no switching charges at all.
* ``exit-waiver``: the source provider's own free-egress offer for leaving customers,
  where its catalog entry has one (it must be requested; conditions are recorded).

Restores of archived objects (retrieval requests and GB restored, by storage class and
tier) are priced at list under every regime: they are charges of the storage class the
customer chose, not charges for leaving.
"""

from dataclasses import dataclass
from datetime import date

from exitkit.catalog.load import Catalog
from exitkit.catalog.model import CatalogEntry, Price, RetrievalPrice, TieredPrice
from exitkit.evidence.record import CostEstimate, CostLine, CostReport, ExchangeRateUsed

GB = 2**30
DATA_ACT_SWITCHING_APPLIES = date(2025, 9, 12)
DATA_ACT_NO_CHARGES_FROM = date(2027, 1, 12)
REGIMES = ("list", "data-act", "exit-waiver")


@dataclass(frozen=True)
class Usage:
    """What an exit uses: bytes leaving the source, requests per side, bytes kept."""

    egress_bytes: int
    source_reads: int
    source_writes: int
    target_reads: int
    target_writes: int
    stored_bytes: int
    stored_days: float
    restores: tuple["Restores", ...] = ()
    class_reads: tuple[tuple[str, int], ...] = ()  # (storage class, bytes read from it)


@dataclass(frozen=True)
class Restores:
    """Restores of archived objects in one storage class at one tier."""

    storage_class: str
    tier: str
    requests: int
    bytes: int


def applicable_regime(on: date) -> str:
    """The regime EU law sets for a switch on *on*."""
    return "data-act" if on >= DATA_ACT_SWITCHING_APPLIES else "list"


def tiered_amount(gigabytes: float, price: TieredPrice) -> float:
    """The charge for *gigabytes* under volume tiers (cumulative bounds)."""
    amount, lower = 0.0, 0.0
    for tier in price.tiers:
        upper = tier.up_to_gb if tier.up_to_gb is not None else float("inf")
        if gigabytes > lower:
            amount += (min(gigabytes, upper) - lower) * tier.price
        lower = upper
    return amount


class CostModel:
    """Prices a :class:`Usage` for one source and one target catalog entry."""

    def __init__(self, catalog: Catalog, source: CatalogEntry, target: CatalogEntry) -> None:
        self.catalog, self.source, self.target = catalog, source, target

    def to_eur(self, amount: float, currency: str) -> float:
        """Convert *amount* in *currency* to EUR at the catalog's rate."""
        if currency == "EUR":
            return amount
        return amount * self.catalog.fx.rates[currency].eur

    def _line(self, entry: CatalogEntry, item: str, quantity: float, unit: str,
              price: Price | TieredPrice, amount: float, note: str = "") -> CostLine:
        unit_price = price.price if isinstance(price, Price) else (amount / quantity
                                                                  if quantity else 0.0)
        return CostLine(item=item, provider=entry.name, quantity=round(quantity, 6), unit=unit,
                        unit_price=round(unit_price, 8), currency=entry.currency,
                        amount_eur=round(self.to_eur(amount, entry.currency), 8),
                        source=price.source, as_of=price.as_of, note=note)

    def estimate(self, usage: Usage, regime: str, on: date) -> CostEstimate:
        """Every cost line of *usage* under *regime* on date *on*, and their total."""
        source, target = self.source, self.target
        egress_gb = usage.egress_bytes / GB
        egress = tiered_amount(egress_gb, source.prices.egress_gb)
        note = "list price"
        if regime == "data-act" and on >= DATA_ACT_NO_CHARGES_FROM:
            egress, note = 0.0, "EU Data Act: no switching charges from 2027-01-12"
        elif regime == "data-act":
            note = "EU Data Act: at most at cost until 2027-01-12; list price as ceiling"
        elif regime == "exit-waiver" and source.exit_waiver and source.exit_waiver.free_egress:
            egress, note = 0.0, f"provider exit waiver: {source.exit_waiver.conditions}"
        prices_s, prices_t = source.prices, target.prices
        lines = [
            self._line(source, "source egress", egress_gb, "GB", prices_s.egress_gb, egress, note),
            self._line(source, "source read requests", usage.source_reads, "requests",
                       prices_s.get_per_1000, usage.source_reads / 1000 * prices_s.get_per_1000.price),
            self._line(source, "source list requests", usage.source_writes, "requests",
                       prices_s.put_per_1000,
                       usage.source_writes / 1000 * prices_s.put_per_1000.price),
            self._line(target, "target write and list requests", usage.target_writes, "requests",
                       prices_t.put_per_1000,
                       usage.target_writes / 1000 * prices_t.put_per_1000.price),
            self._line(target, "target read requests", usage.target_reads, "requests",
                       prices_t.get_per_1000, usage.target_reads / 1000 * prices_t.get_per_1000.price),
            self._line(target, "target storage", usage.stored_bytes / GB * usage.stored_days / 30,
                       "GB-months", prices_t.storage_gb_month,
                       usage.stored_bytes / GB * usage.stored_days / 30
                       * prices_t.storage_gb_month.price),
        ]
        lines += self._restore_lines(usage)
        lines += self._read_retrieval_lines(usage)
        return CostEstimate(regime=regime, total_eur=round(sum(l.amount_eur for l in lines), 8),
                            lines=lines)

    def _restore_lines(self, usage: Usage) -> list[CostLine]:
        """Retrieval requests and GB restored, per storage class and tier, at list price
        under every regime: a restore is a storage-class charge, not egress."""
        lines = []
        note = "restore of archived objects; list price under every regime"
        for restore in usage.restores:
            price = self.retrieval_price(restore)
            if price is None:
                continue
            label = f"{restore.storage_class}, {restore.tier}"
            for item, quantity, unit, unit_price, amount in (
                    (f"source restore requests ({label})", restore.requests, "requests",
                     price.per_1000_requests, restore.requests / 1000 * price.per_1000_requests),
                    (f"source restore retrieval ({label})", restore.bytes / GB, "GB",
                     price.per_gb, restore.bytes / GB * price.per_gb)):
                lines.append(CostLine(
                    item=item, provider=self.source.name, quantity=round(quantity, 6), unit=unit,
                    unit_price=unit_price, currency=self.source.currency,
                    amount_eur=round(self.to_eur(amount, self.source.currency), 8),
                    source=price.source, as_of=price.as_of, note=note))
        return lines

    def _read_retrieval_lines(self, usage: Usage) -> list[CostLine]:
        """Per-GB fees for reading classes that bill every read (GCS Nearline, Coldline,
        Archive), at list price under every regime, as restores are."""
        lines = []
        for storage_class, size in usage.class_reads:
            price = self.source.prices.read_retrieval_gb.get(storage_class)
            if price is None or not size:
                continue
            lines.append(self._line(self.source, f"source retrieval on read ({storage_class})",
                                    size / GB, "GB", price, size / GB * price.price,
                                    "storage-class read fee; list price under every regime"))
        return lines

    def retrieval_price(self, restore: "Restores") -> RetrievalPrice | None:
        """The source catalog's price for *restore*'s class and tier, if it has one."""
        return self.source.prices.retrieval.get(restore.storage_class, {}).get(restore.tier)

    def monthly_storage_eur(self, entry: CatalogEntry, stored_bytes: int) -> float:
        """What keeping *stored_bytes* costs a month at *entry*'s storage price."""
        price = entry.prices.storage_gb_month.price
        return round(self.to_eur(stored_bytes / GB * price, entry.currency), 6)


def scaled_usage(drill: Usage, drill_objects: int, estate_objects: int, estate_bytes: int,
                 stored_days: float, restores: tuple[Restores, ...] = (),
                 class_reads: tuple[tuple[str, int], ...] = ()) -> Usage:
    """The full exit's usage: the estate's bytes, requests per object as measured,
    *restores* of the estate's archived objects and *class_reads*, its bytes per class."""
    factor = estate_objects / drill_objects if drill_objects else 0.0
    return Usage(egress_bytes=estate_bytes,
                 source_reads=round(drill.source_reads * factor),
                 source_writes=round(drill.source_writes * factor),
                 target_reads=round(drill.target_reads * factor),
                 target_writes=round(drill.target_writes * factor),
                 stored_bytes=estate_bytes, stored_days=stored_days, restores=restores,
                 class_reads=class_reads)


def cost_report(model: CostModel, drill: Usage, full_exit: Usage, on: date,
                assumptions: list[str]) -> CostReport:
    """Both estimates under every regime, the monthly run-rates, and the rates used."""
    currencies = {model.source.currency, model.target.currency} - {"EUR"}
    unpriced = [f"restores of {restore.bytes / GB:g} GB in {restore.storage_class} at tier "
                f"{restore.tier} are not priced: the source catalog has no retrieval price "
                f"for them" for usage in (drill, full_exit) for restore in usage.restores
                if model.retrieval_price(restore) is None]
    rates = [ExchangeRateUsed(currency=c, eur=model.catalog.fx.rates[c].eur,
                              source=model.catalog.fx.rates[c].source,
                              as_of=model.catalog.fx.rates[c].as_of) for c in sorted(currencies)]
    return CostReport(
        source_catalog=model.source.name, target_catalog=model.target.name, drill_date=on,
        applicable_regime=applicable_regime(on), exchange_rates=rates,
        drill=[model.estimate(drill, regime, on) for regime in REGIMES],
        full_exit=[model.estimate(full_exit, regime, on) for regime in REGIMES],
        monthly_source_eur=model.monthly_storage_eur(model.source, full_exit.stored_bytes),
        monthly_target_eur=model.monthly_storage_eur(model.target, full_exit.stored_bytes),
        assumptions=[
            "GB = 2^30 bytes; egress tiers applied as if the transfer fell in one billing month",
            "requests as counted during the drill; the full exit scales them per object",
            "a full exit keeps the estate on the target for the projected duration",
            *assumptions,
            *dict.fromkeys(unpriced),
        ])
