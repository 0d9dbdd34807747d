"""The contract of providers/contract.py, run against every adapter in
tests/contract_adapters.py on its real server, in the manner of rclone's fstests."""

import hashlib
import itertools
import os

import pytest

from exitkit.drill.probe import PROBE_CLASSES, run_probe
from exitkit.errors import PermanentError
from exitkit.providers.contract import Attributes, ObjectSource, ObjectTarget
from tests.contract_adapters import ADAPTERS, ContractAdapter

WRITE_METHODS = ("put", "remove", "prepare", "release_legal_hold")
#: Keys whose UTF-8 byte order differs from case-folded order and from path order
#: ("a-b" < "a/x" < "a0"); none is a prefix folder of another, so directories hold them.
ORDERED_KEYS = ["B", "a/x", "a-b", "a0", "a~", "z", "Ä", "é", "日本", "\U0001f680"]
_buckets = itertools.count()


@pytest.fixture(scope="module", params=sorted(ADAPTERS))
def adapter(request) -> ContractAdapter:
    """Each adapter under contract, on a fresh bucket of its own server."""
    return ADAPTERS[request.param](request, f"contract{os.getpid()}-{next(_buckets)}")


def _body(key: str) -> bytes:
    return f"contract body of {key}\n".encode()


def _put(target: ObjectTarget, key: str, body: bytes) -> None:
    target.put(key, iter([body[:7], body[7:]]), len(body), Attributes("text/plain"))


def test_head_of_a_missing_key_is_none(adapter):
    assert adapter.target.head("contract/missing-key") is None
    assert adapter.source.head("contract/missing-key") is None


def test_open_of_a_missing_key_is_a_permanent_error(adapter):
    with pytest.raises(PermanentError):
        with adapter.source.open("contract/missing-key"):
            pass


def test_remove_of_a_missing_key_is_not_an_error(adapter):
    adapter.target.remove("contract/never-written")
    assert adapter.target.head("contract/never-written") is None


def test_a_put_is_visible_only_once_complete(adapter):
    target, key = adapter.target, "contract/visibility/object.bin"
    body = os.urandom(3000)
    seen_while_writing = []

    def chunks(fail: bool):
        for start in range(0, len(body), 1000):
            seen_while_writing.append((target.head(key), [i.key for i in target.list(
                "contract/visibility/")]))
            yield body[start:start + 1000]
        if fail:
            raise ConnectionResetError("source went away mid-object")

    with pytest.raises(ConnectionResetError):
        target.put(key, chunks(fail=True), len(body), Attributes())
    assert target.head(key) is None
    assert [info.key for info in target.list("contract/visibility/")] == []
    result = target.put(key, chunks(fail=False), len(body), Attributes())
    assert seen_while_writing == [(None, [])] * 6
    assert result.size == len(body)
    with adapter.source.open(key) as stream:
        assert hashlib.sha256(b"".join(stream.chunks)).digest() == hashlib.sha256(body).digest()
    assert adapter.source.head(key).size == len(body)


def test_listing_order_is_as_declared(adapter):
    prefix = "contract/order/"
    for name in ORDERED_KEYS:
        _put(adapter.target, prefix + name, _body(name))
    listed = [info.key for info in adapter.source.list(prefix)]
    assert sorted(listed) == sorted(prefix + name for name in ORDERED_KEYS)
    assert {info.key: info.size for info in adapter.source.list(prefix)} == {
        prefix + name: len(_body(name)) for name in ORDERED_KEYS}
    if adapter.source.capabilities.lists_in_key_order:
        assert listed == sorted(listed, key=str.encode)


def test_the_source_has_no_write_methods(adapter):
    source = adapter.source
    assert isinstance(source, ObjectSource)
    assert not isinstance(source, ObjectTarget)
    assert [name for name in WRITE_METHODS if hasattr(source, name)] == []
    assert all(hasattr(adapter.target, name) for name in WRITE_METHODS[:3])


def test_declared_capabilities_equal_observed_ones(adapter):
    declared = adapter.target.capabilities
    report = run_probe(adapter.target, adapter.provider, "contract/", declared)
    assert report.remaining_after_cleanup == 0
    differing = {difference.capability for difference in report.differences_from_profile}
    assert differing == set(adapter.conformance.deviations), report.differences_from_profile
    assert all(reason.strip() for reason in adapter.conformance.deviations.values())
    measured = set(report.capabilities["storage_classes"])
    over_claimed = (declared.storage_classes & set(PROBE_CLASSES)) - measured
    assert over_claimed == set(), f"declared but not held: {sorted(over_claimed)}"
