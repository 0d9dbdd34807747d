"""The workloads phase: move each service's image, start it on the target, judge it,
and always remove it again.

Per service: copy the image between registries (skopeo) and read both manifests back;
remove containers an earlier interrupted run of this drill left behind; pull and start
the image on the target runtime (libcloud's Docker driver); wait for the health check;
fetch migrated objects through the workload; then tear down, also after a failure or
Ctrl-C, and confirm that no container of this run is left.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from exitkit.drill.events import DrillObserver
from exitkit.drill.workload_spec import Resources, Service, Workloads
from exitkit.errors import EndpointError
from exitkit.evidence.workload_record import (ImageRecord, TeardownRecord, WorkloadCost,
                                              WorkloadRecord)
from exitkit.providers.containers import ContainerRuntimeDriver, open_runtime
from exitkit.providers.contract import ObjectSource
from exitkit.providers.image_copy import copy_image, skopeo
from exitkit.providers.oci import ImageReference, RegistryClient
from exitkit.redaction import scrub
from exitkit.verify.health import Probe, exec_probe, http_probe, wait_healthy
from exitkit.verify.served_data import check_served_data

PHASE = "workloads"


@dataclass(frozen=True)
class MigratedData:
    """Where the drill put the data, as the workloads reach it, and a way to read it."""

    store: ObjectSource
    prefix: str
    env: Mapping[str, str]


def data_env(endpoint: str, bucket: str, prefix: str) -> dict[str, str]:
    """The configuration a workload gets to find the migrated data (no credentials)."""
    return {"EXITKIT_DATA_ENDPOINT": endpoint, "EXITKIT_DATA_BUCKET": bucket,
            "EXITKIT_DATA_PREFIX": prefix,
            "EXITKIT_DATA_URL": f"{endpoint.rstrip('/')}/{bucket}/{prefix}"}


@dataclass
class WorkloadsPhase:
    """Runs every service of a drill's ``workloads`` section on its target."""

    drill: str
    run_id: str
    settings: Workloads
    registry_logins: Mapping[str, tuple[str, str]]
    secret_env: Mapping[str, Mapping[str, str]]
    retries: int
    price: Callable[[Resources], WorkloadCost | None]
    observer: DrillObserver
    data: MigratedData | None = None
    runtime: ContainerRuntimeDriver | None = field(default=None, init=False)

    def preflight(self) -> None:
        """Fail before any copying when skopeo is missing or the runtime does not answer."""
        skopeo()
        self.runtime = open_runtime(self.settings.runtime.url)

    def run(self) -> list[WorkloadRecord]:
        """Run every service in order and return their records."""
        if self.runtime is None:
            self.preflight()
        self.observer.phase_started(PHASE, len(self.settings.services), None)
        records = []
        for service in self.settings.services:
            records.append(self._service(service))
            self.observer.advanced(PHASE, 1, records[-1].image.bytes)
        self.observer.phase_finished(PHASE)
        return records

    def _service(self, service: Service) -> WorkloadRecord:
        source = ImageReference.parse(service.image)
        target = source.moved_to(self.settings.registry.host, self.settings.registry.namespace)
        record = WorkloadRecord(name=service.name, status="error",
                                image=ImageRecord(source=str(source), target=str(target)),
                                cost=self.price(service.resources))
        labels = {"exitkit.drill": self.drill, "exitkit.service": service.name}
        container = image_id = None
        stale = 0
        image_was_present = True
        try:
            record.image = self._move_image(source, target)
            if not record.image.digests_match:
                record.errors.append("the image digest differs on the target registry")
                return record
            stale = self._remove(self.runtime.labelled(labels))
            image_was_present = self.runtime.has_image(str(target))
            started = time.monotonic()
            image_id = self.runtime.pull(str(target))
            record.pull_s = round(time.monotonic() - started, 3)
            started = time.monotonic()
            container = self.runtime.create(
                name=f"exitkit-{self.drill}-{service.name}-{self.run_id[:8]}",
                reference=str(target), command=service.command, env=self._env(service),
                ports={port.container: port.host for port in service.ports},
                network=service.network, cpus=service.resources.cpus,
                memory=service.resources.memory, labels={**labels, "exitkit.run": self.run_id})
            record.health, healthy_after = wait_healthy(
                self._probe(service, container), service.health,
                lambda: self._gone(container), started)
            record.time_to_healthy_s = healthy_after and round(healthy_after, 3)
            if record.health.passed and service.data is not None and self.data is not None:
                record.data = check_served_data(self.data.store, self.data.prefix, service.data,
                                                self._base_url(service, service.data.port))
            record.status = "healthy" if record.health.passed else "unhealthy"
        except EndpointError as exc:
            record.errors.append(str(exc))
        finally:
            pulled = image_id and not image_was_present
            record.teardown = self._teardown(container, str(target) if pulled else None,
                                             {"exitkit.run": self.run_id}, stale, service.name)
        return record

    def _move_image(self, source: ImageReference, target: ImageReference) -> ImageRecord:
        access = self.settings.registries
        tls = {host: settings.tls_verify for host, settings in access.items()}
        started = time.monotonic()
        copy_image(source, target, tls, dict(self.registry_logins), self.retries)
        copied_after = round(time.monotonic() - started, 3)
        manifests = [RegistryClient(ref.registry, tls.get(ref.registry, True),
                                    self.registry_logins.get(ref.registry))
                     .manifest(ref.repository, ref.reference) for ref in (source, target)]
        before, after = manifests
        return ImageRecord(source=str(source), target=str(target), source_digest=before.digest,
                           target_digest=after.digest, digests_match=before.digest == after.digest,
                           media_type=after.media_type, platforms=after.platforms,
                           layers=after.layers, bytes=after.layer_bytes, copy_s=copied_after)

    def _env(self, service: Service) -> dict[str, str]:
        data_env = dict(self.data.env) if self.data else {}
        return {**data_env, **service.env, **self.secret_env.get(service.name, {})}

    def _base_url(self, service: Service, container_port: int) -> str:
        host_port = next((port.host for port in service.ports if port.container == container_port),
                         container_port if service.network == "host" else None)
        if host_port is None:
            raise EndpointError(self.settings.runtime.url, f"service {service.name}: container "
                                f"port {container_port} is not published (add it to 'ports')")
        return f"http://{self.runtime.connection.host}:{host_port}"

    def _probe(self, service: Service, container: str) -> Probe:
        check = service.health
        if check.http is not None:
            url = self._base_url(service, check.http.port) + check.http.path
            return http_probe(url, check.http.status, check.http.body_contains)
        return exec_probe(check.exec.command, check.exec.exit_code,
                          lambda command: self.runtime.exec(container, command))

    def _gone(self, container: str) -> str | None:
        """Why the container stopped, or None while it runs."""
        state = self.runtime.state(container)
        if state.running:
            return None
        logs = self.runtime.logs_tail(container)
        return f"container exited with code {state.exit_code}" + (f": {logs}" if logs else "")

    def _remove(self, containers: list[str]) -> int:
        for container in containers:
            self.runtime.remove(container)
        return len(containers)

    def _teardown(self, container: str | None, pulled_image: str | None,
                  labels: dict[str, str], stale: int, service: str) -> TeardownRecord:
        """Remove what this run started (and the image if this run pulled it), then confirm."""
        if self.runtime is None:
            return TeardownRecord(done=True, containers_removed=0, stale_removed=stale,
                                  image_removed=False, remaining=0, detail="nothing started")
        removed, image_removed, problems = 0, False, []
        try:
            removed = self._remove(self.runtime.labelled(labels))
            if pulled_image:
                self.runtime.remove_image(pulled_image)
                image_removed = True
            remaining = len(self.runtime.labelled(labels))
        except EndpointError as exc:
            problems.append(str(exc))
            remaining = None
        detail = scrub("; ".join(problems)) if problems else (
            f"{removed} container(s) removed" + (", pulled image removed" if image_removed
                                                  else "") if container or removed else
            "no container was started")
        self.observer.noted(PHASE, f"{service}: teardown {'done' if remaining == 0 else 'FAILED'}"
                                   f" ({detail})")
        return TeardownRecord(done=remaining == 0, containers_removed=removed,
                              stale_removed=stale, image_removed=image_removed,
                              remaining=remaining, detail=detail)
