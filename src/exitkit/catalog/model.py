"""The catalog file format (``providers/*.yaml``), validated with pydantic."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Catalog models reject unknown fields."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Price(Strict):
    """One price with where it was read and when."""

    price: float = Field(ge=0)
    source: str
    as_of: date


class Tier(Strict):
    """One egress tier: *price* per GB for the volume up to *up_to_gb* (cumulative)."""

    up_to_gb: float | None = Field(default=None, gt=0)
    price: float = Field(ge=0)


class TieredPrice(Strict):
    """A per-GB price in monthly volume tiers; the last tier has no upper bound."""

    tiers: list[Tier] = Field(min_length=1)
    source: str
    as_of: date

    @model_validator(mode="after")
    def _ordered(self) -> "TieredPrice":
        bounds = [tier.up_to_gb for tier in self.tiers[:-1]]
        if None in bounds or bounds != sorted(bounds) or self.tiers[-1].up_to_gb is not None:
            raise ValueError("tiers must ascend and only the last may have no 'up_to_gb'")
        return self


class RetrievalPrice(Strict):
    """What restoring archived objects costs at one tier: per GB restored and per 1,000
    RestoreObject requests."""

    per_gb: float = Field(ge=0)
    per_1000_requests: float = Field(ge=0)
    source: str
    as_of: date


class Prices(Strict):
    """The prices exitkit's cost model uses (GB = 2^30 bytes)."""

    storage_gb_month: Price
    egress_gb: TieredPrice
    put_per_1000: Price = Field(description="PUT, COPY, POST, LIST requests per 1,000")
    get_per_1000: Price = Field(description="GET, HEAD and other requests per 1,000")
    compute_hour: Price | None = None
    retrieval: dict[str, dict[Literal["bulk", "standard", "expedited"], RetrievalPrice]] = Field(
        default_factory=dict, description="restores, by archived storage class and tier")
    read_retrieval_gb: dict[str, Price] = Field(
        default_factory=dict, description="per GB read from a storage class that bills "
        "every read, with no restore (GCS Nearline, Coldline, Archive)")


class ExitWaiver(Strict):
    """A provider's own offer of free egress for customers who leave."""

    free_egress: bool
    conditions: str
    source: str
    as_of: date


class ComputeSize(Strict):
    """One VM size a provider sells, priced per hour, per month, or both.

    ``price_month`` is the provider's own monthly price where it publishes one (usually a
    cap on hourly billing); without it a month is ``price_hour`` x 730 hours.
    """

    name: str = Field(min_length=1)
    vcpus: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpus: int = Field(default=0, ge=0)
    price_hour: Price | None = None
    price_month: Price | None = None

    @model_validator(mode="after")
    def _priced(self) -> "ComputeSize":
        if self.price_hour is None and self.price_month is None:
            raise ValueError("give 'price_hour', 'price_month' or both")
        return self


class BlockStorage(Strict):
    """The provider's block-storage volumes: the largest one it offers."""

    max_volume_gib: int = Field(gt=0)
    source: str
    as_of: date


class CatalogEntry(Strict):
    """One provider in one region; compute sizes share the entry's currency."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    display_name: str
    provider: str
    region: str | None = None
    endpoint: str | None = None
    jurisdiction: str = Field(description="where the provider is legally seated (ISO country)")
    data_location: str = Field(description="where the data is held (ISO country or region)")
    currency: Literal["EUR", "USD"]
    prices: Prices
    exit_waiver: ExitWaiver | None = None
    compute_sizes: list[ComputeSize] = Field(default_factory=list)
    block_storage: BlockStorage | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _unique_sizes(self) -> "CatalogEntry":
        names = [size.name for size in self.compute_sizes]
        if len(names) != len(set(names)):
            raise ValueError("compute size names must be unique")
        return self


class ExchangeRate(Strict):
    """How many EUR one unit of a currency buys, with source and date."""

    eur: float = Field(gt=0)
    source: str
    as_of: date


class ExchangeRates(Strict):
    """The catalog's exchange-rate file (``providers/fx.yaml``)."""

    rates: dict[str, ExchangeRate]


class ReplacementOption(Strict):
    """One EU-managed or self-hosted replacement for a proprietary managed service."""

    name: str
    kind: Literal["eu-managed", "self-hosted"]
    operator: str = Field(description="who runs it: the EU provider, or 'you'")
    jurisdiction: str = Field(description="where the operator is legally seated (ISO "
                                          "country), 'own' for self-hosted")
    source: str
    as_of: date


class ManagedServiceKind(Strict):
    """A kind of proprietary managed service and the options that replace it."""

    display_name: str
    replacements: list[ReplacementOption] = Field(
        default_factory=list, description="empty: no known replacement")
    notes: str = ""


class Replacements(Strict):
    """The replacement table (``providers/replacements.yaml``), by service kind."""

    services: dict[str, ManagedServiceKind]
