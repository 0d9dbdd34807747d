"""Seed an Azure Blob container shaped like a real estate, for the demo and the tests.

Written with the azure-storage-blob SDK (a client independent of exitkit's adapter). The
estate is the bucket :mod:`exitkit.embedded.seed` describes (odd keys, empty blobs, folder
markers, pre-compressed assets stored with a Content-Encoding, metadata, content types,
large blobs), placed in Azure's access tiers from :data:`TIER_SHARES` (an archive in the
Archive tier among them), with index tags from :data:`TAG_TABLE` on some blobs. Large
blobs go up in blocks (the SDK then stores no Content-MD5); the others carry the MD5
Azure stores.
"""

import itertools
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from exitkit.embedded.seed import SeedObject, demo_objects

MIB = 1024 * 1024
#: Blobs up to this size go up in one Put Blob; larger ones in blocks of BLOCK_SIZE.
SINGLE_PUT_LIMIT = 4 * MIB
BLOCK_SIZE = 4 * MIB
#: (Azure access tier, share of the seeded blobs); the rest stay Hot (the default).
TIER_SHARES = (("Cool", 0.15), ("Cold", 0.05), ("Archive", 0.03))
#: Index tags some blobs carry, cycled (None: no tags).
TAG_TABLE = ({"project": "exit", "owner": "finance"}, None, {"confidential": "yes"}, None,
             None, {"Case": "Mixed", "team": "web"})


@dataclass(frozen=True)
class AzureSeedBlob:
    """One blob to write: the seed object and the tier and tags it gets on Azure."""

    obj: SeedObject
    tier: str = "Hot"
    tags: dict[str, str] = field(default_factory=dict)


def azure_estate(count: int, seed: int = 2027) -> list[AzureSeedBlob]:
    """About *count* blobs (at least ~70), drawn for *seed*, with at least one blob in each
    tier of :data:`TIER_SHARES`."""
    rng = random.Random(seed)
    objects = list(demo_objects(count, seed=seed))
    tiers = ["Hot"] * len(objects)
    candidates = [index for index, obj in enumerate(objects) if obj.body
                  and not obj.key.endswith("/") and len(obj.body) <= SINGLE_PUT_LIMIT]
    rng.shuffle(candidates)
    start = 0
    for tier, share in TIER_SHARES:
        take = max(1, round(share * len(objects)))
        for index in candidates[start:start + take]:
            tiers[index] = tier
        start += take
    tags = itertools.cycle(TAG_TABLE)  # on blobs with content: a folder marker is no file
    return [AzureSeedBlob(obj, tier, dict(next(tags) or {}) if obj.body else {})
            for obj, tier in zip(objects, tiers)]


def put_blob(container, blob: AzureSeedBlob) -> None:
    """Upload one blob with its content settings, metadata, tier and tags."""
    from azure.storage.blob import ContentSettings, StandardBlobTier

    obj = blob.obj
    settings = ContentSettings(content_type=obj.content_type,
                               content_encoding=obj.content_encoding)
    container.upload_blob(obj.key, obj.body, overwrite=True, metadata=obj.metadata,
                          content_settings=settings, tags=blob.tags or None,
                          standard_blob_tier=StandardBlobTier(blob.tier), max_concurrency=1)


def seed_container(connection_string: str, container: str, blobs: list[AzureSeedBlob],
                   workers: int = 8) -> None:
    """Create *container* (if needed) and upload *blobs* concurrently."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(
        connection_string, max_single_put_size=SINGLE_PUT_LIMIT, max_block_size=BLOCK_SIZE)
    client = service.get_container_client(container)
    try:
        client.create_container()
    except ResourceExistsError:
        pass
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda blob: put_blob(client, blob), blobs))


def blobs_by_tier(blobs: list[AzureSeedBlob]) -> Iterator[tuple[str, int]]:
    """(tier, how many) of *blobs*, for messages."""
    for tier in ("Hot", *(tier for tier, _share in TIER_SHARES)):
        yield tier, sum(1 for blob in blobs if blob.tier == tier)
