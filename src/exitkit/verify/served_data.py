"""Check that a workload on the target serves the objects the drill migrated.

Objects are read from the target bucket and through the workload; both byte streams are
hashed (SHA-256) and must agree. Only objects up to :data:`MAX_OBJECT_BYTES` are chosen,
the first ones in key order, so the check stays quick on any estate.
"""

from __future__ import annotations

import hashlib
from itertools import islice
from typing import TYPE_CHECKING
from urllib.parse import quote

import requests

from exitkit.evidence.workload_record import DataCheckRecord, ServedObject
from exitkit.providers.contract import ObjectSource

if TYPE_CHECKING:  # the spec's section; verify/ imports nothing from drill/
    from exitkit.drill.workload_spec import DataCheck

MAX_OBJECT_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_S = 30
CHUNK = 1024 * 1024


def check_served_data(target: ObjectSource, target_prefix: str, check: DataCheck,
                      base_url: str) -> DataCheckRecord:
    """Fetch ``check.objects`` migrated objects through the workload at *base_url*."""
    listed = (info for info in target.list(target_prefix + check.prefix)
              if info.size <= MAX_OBJECT_BYTES and not info.key.endswith("/"))
    url_template = base_url + check.path
    objects = [_fetch(target, info.key, info.size, info.key[len(target_prefix):], url_template)
               for info in islice(listed, check.objects)]
    matched = sum(served.matched for served in objects)
    return DataCheckRecord(url_template=url_template, checked=len(objects), matched=matched,
                           objects=objects, passed=bool(objects) and matched == len(objects))


def _fetch(target: ObjectSource, key: str, size: int, relative: str,
           url_template: str) -> ServedObject:
    with target.open(key) as stream:
        expected = _digest(stream.chunks)
    url = url_template.replace("{key}", quote(relative, safe="/"))
    try:
        with requests.get(url, stream=True, timeout=FETCH_TIMEOUT_S) as response:
            served = _digest(response.iter_content(CHUNK)) if response.ok else None
            status = response.status_code
    except requests.RequestException:
        served, status = None, None
    return ServedObject(key=relative, size=size, sha256_target=expected, sha256_served=served,
                        status=status, matched=served == expected)


def _digest(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
