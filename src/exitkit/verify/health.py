"""Wait for a started workload to pass its health check, within its deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from exitkit.errors import EndpointError
from exitkit.evidence.workload_record import HealthRecord

if TYPE_CHECKING:  # the spec's sections; verify/ imports nothing from drill/
    from exitkit.drill.vm_spec import VmHealthCheck
    from exitkit.drill.workload_spec import HealthCheck

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Probe:
    """One health probe: what it checks, and a call returning (passed, what was seen)."""

    kind: str
    target: str
    attempt: Callable[[], tuple[bool, str]]


def http_probe(url: str, status: int, body_contains: str | None) -> Probe:
    """GET *url*; passes on *status* with *body_contains* in the body."""
    def attempt() -> tuple[bool, str]:
        try:
            response = requests.get(url, timeout=PROBE_TIMEOUT_S)
        except requests.RequestException as exc:
            return False, f"no answer ({type(exc).__name__})"
        seen = f"HTTP {response.status_code}"
        if response.status_code != status:
            return False, seen
        if body_contains is not None and body_contains not in response.text:
            return False, f"{seen}, body lacks {body_contains!r}"
        return True, seen
    return Probe("http", url, attempt)


def tcp_probe(host: str, port: int) -> Probe:
    """Connect to *host*:*port*; passes when the server speaks first (a banner, as SSH,
    SMTP or many databases send) within the probe timeout. A connection that is merely
    accepted proves nothing: a port forward (QEMU's user-mode network) accepts and holds
    connections while the guest does not even run."""
    def attempt() -> tuple[bool, str]:
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S) as connection:
                answer = connection.recv(256)
        except TimeoutError:
            return False, "connected, but the server sent nothing"
        except OSError as exc:
            return False, f"no connection ({type(exc).__name__})"
        if not answer:
            return False, "connection closed at once"
        banner = answer.decode("ascii", "replace").splitlines()[0].strip()[:80]
        return True, f"banner {banner!r}"
    return Probe("tcp", f"{host}:{port}", attempt)


def exec_probe(command: list[str], expected: int, run: Callable[[list[str]], int]) -> Probe:
    """Run *command* in the container through *run*; passes on exit code *expected*."""
    def attempt() -> tuple[bool, str]:
        try:
            code = run(command)
        except EndpointError as exc:  # e.g. the container is not running (any more)
            return False, f"exec refused: {exc}"
        return code == expected, f"exit code {code}"
    return Probe("exec", " ".join(command), attempt)


def wait_healthy(probe: Probe, check: HealthCheck | VmHealthCheck,
                 still_running: Callable[[], str | None],
                 started: float) -> tuple[HealthRecord, float | None]:
    """Probe until it passes or the deadline (counted from *started*, a monotonic time)
    passes; stop early when *still_running* reports why the workload is gone.

    Returns the record and the seconds from *started* to the first pass (None if never).
    """
    deadline = started + check.deadline.total_seconds()
    attempts, seen = 0, "not probed"
    while True:
        attempts += 1
        passed, seen = probe.attempt()
        if passed:
            return (HealthRecord(kind=probe.kind, target=probe.target, passed=True,
                                 attempts=attempts, detail=seen), time.monotonic() - started)
        gone = still_running()
        if gone is not None:
            seen = f"{seen}; {gone}"
            break
        if time.monotonic() + check.interval.total_seconds() > deadline:
            seen = f"{seen}; deadline of {check.deadline.total_seconds():g} s passed"
            break
        time.sleep(check.interval.total_seconds())
    return HealthRecord(kind=probe.kind, target=probe.target, passed=False, attempts=attempts,
                        detail=seen), None
