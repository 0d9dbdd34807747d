"""Run containers on a target runtime through libcloud's Docker driver.

libcloud's driver (apache-libcloud 3.9) speaks the Docker Engine API, which Docker and
Podman's service both serve. Three gaps are fixed here, each covered by a test:

* ``install_image`` recognises only Docker's pull messages; Podman's differ, so the
  pulled image is looked up by inspecting it instead.
* ``deploy_container`` sends ports, memory and network mode as top-level fields, which
  API versions after 1.24 ignore; they go into ``HostConfig`` here, with CPU limits.
* there is no exec call; health checks by command need one.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar
from urllib.parse import quote, urlsplit

from libcloud.common.exceptions import BaseHTTPError
from libcloud.container.drivers.docker import DockerContainerDriver

from exitkit.errors import EndpointError

API_VERSION = "1.41"
Result = TypeVar("Result")


def _endpoint_errors(call: Callable[..., Result]) -> Callable[..., Result]:
    """Turn the runtime's HTTP and connection failures into EndpointError (one line)."""
    @wraps(call)
    def translated(self: "ContainerRuntimeDriver", *args, **kwargs) -> Result:
        try:
            return call(self, *args, **kwargs)
        except BaseHTTPError as exc:
            raise EndpointError(self.url, f"{call.__name__}: {_message(exc.message)}") from None
        except OSError as exc:
            raise EndpointError(self.url, f"{call.__name__}: runtime unreachable "
                                          f"({type(exc).__name__})") from None
    return translated


class ContainerRuntimeDriver(DockerContainerDriver):
    """libcloud's Docker driver with the gaps above filled; every call raises
    EndpointError naming the runtime when it fails."""

    url = ""

    @_endpoint_errors
    def pull(self, reference: str) -> str:
        """Pull *reference* and return the image id the runtime stored."""
        response = self.connection.request(f"/v{self.version}/images/create",
                                           params={"fromImage": reference}, method="POST")
        errors = [line for line in response.body.splitlines() if '"error' in line]
        if errors:
            raise EndpointError(self.url, f"pull of {reference} failed: "
                                                      f"{_message(errors[-1])}")
        return self.image_id(reference)

    @_endpoint_errors
    def image_id(self, reference: str) -> str:
        """The id of an image the runtime holds."""
        inspected = self.connection.request(
            f"/v{self.version}/images/{quote(reference, safe='')}/json").object
        return inspected["Id"]

    @_endpoint_errors
    def has_image(self, reference: str) -> bool:
        """Whether the runtime already holds *reference*."""
        try:
            self.connection.request(f"/v{self.version}/images/{quote(reference, safe='')}/json")
        except BaseHTTPError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    @_endpoint_errors
    def create(self, name: str, reference: str, command: list[str] | None, env: dict[str, str],
               ports: dict[int, int], network: str, cpus: float, memory: int,
               labels: dict[str, str]) -> str:
        """Create and start a container; return its id."""
        host_config = {
            "NetworkMode": network,
            "Memory": memory,
            "NanoCpus": int(cpus * 1e9),
            "PortBindings": {f"{inner}/tcp": [{"HostIp": "", "HostPort": str(outer)}]
                             for inner, outer in ports.items()} if network != "host" else {},
        }
        payload = {"Image": reference, "Env": [f"{k}={v}" for k, v in env.items()],
                   "Labels": labels, "ExposedPorts": {f"{p}/tcp": {} for p in ports},
                   "HostConfig": host_config}
        if command:
            payload["Cmd"] = command
        created = self.connection.request(f"/v{self.version}/containers/create",
                                          params={"name": name}, data=json.dumps(payload),
                                          method="POST").object
        self.connection.request(f"/v{self.version}/containers/{created['Id']}/start",
                                method="POST")
        return created["Id"]

    @_endpoint_errors
    def exec(self, container_id: str, command: list[str]) -> int:
        """Run *command* in the container and return its exit code."""
        created = self.connection.request(
            f"/v{self.version}/containers/{container_id}/exec", method="POST",
            data=json.dumps({"Cmd": command, "AttachStdout": True, "AttachStderr": True})).object
        self.connection.request(f"/v{self.version}/exec/{created['Id']}/start", method="POST",
                                data=json.dumps({"Detach": False, "Tty": False}))
        inspected = self.connection.request(f"/v{self.version}/exec/{created['Id']}/json").object
        return inspected["ExitCode"]

    @_endpoint_errors
    def state(self, container_id: str) -> "ContainerState":
        """Whether the container runs, and its exit code once it stopped."""
        inspected = self.connection.request(
            f"/v{self.version}/containers/{container_id}/json").object["State"]
        return ContainerState(inspected.get("Running", False), inspected.get("ExitCode"))

    @_endpoint_errors
    def logs_tail(self, container_id: str, lines: int = 5) -> str:
        """The container's last output lines, for error messages."""
        response = self.connection.request(
            f"/v{self.version}/containers/{container_id}/logs",
            params={"stdout": 1, "stderr": 1, "tail": lines})
        text = response.body if isinstance(response.body, str) else response.body.decode(
            errors="replace")
        printable = "".join(char for char in text if char.isprintable() or char == "\n")
        return " | ".join(line.strip() for line in printable.splitlines() if line.strip())

    @_endpoint_errors
    def remove(self, container_id: str) -> None:
        """Stop and delete the container (no error when it is already gone)."""
        try:
            self.connection.request(f"/v{self.version}/containers/{container_id}",
                                    params={"force": "true", "v": "true"}, method="DELETE")
        except BaseHTTPError as exc:
            if exc.code != 404:
                raise

    @_endpoint_errors
    def remove_image(self, reference: str) -> None:
        """Delete the image the drill pulled as *reference* (its tag; layers other images
        share stay)."""
        self.connection.request(f"/v{self.version}/images/{quote(reference, safe='')}",
                                method="DELETE")

    @_endpoint_errors
    def labelled(self, labels: dict[str, str]) -> list[str]:
        """Ids of all containers (running or not) carrying every one of *labels*."""
        filters = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
        found = self.connection.request(f"/v{self.version}/containers/json",
                                        params={"all": "true", "filters": filters}).object
        return [container["Id"] for container in found]


@dataclass(frozen=True)
class ContainerState:
    """A container's run state."""

    running: bool
    exit_code: int | None


def open_runtime(url: str) -> ContainerRuntimeDriver:
    """Connect to the Docker Engine API at *url*; raises EndpointError when it does not answer."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    try:
        driver = ContainerRuntimeDriver(host=parts.hostname, port=parts.port or
                                        (443 if secure else 80), secure=secure)
    except Exception as exc:  # libcloud raises plain Exceptions and socket errors here
        raise EndpointError(url, f"container runtime unreachable ({type(exc).__name__})") \
            from None
    if not driver.version:
        raise EndpointError(url, "not a Docker Engine API (no ApiVersion in /version)")
    driver.url = url
    driver.version = min(driver.version, API_VERSION, key=float)
    return driver


def _message(line: str) -> str:
    try:
        answer = json.loads(line)
    except ValueError:
        return line.strip()
    return str(answer.get("error") or answer.get("message")
               or answer.get("errorDetail", {}).get("message") or line)
