"""The workload part of a drill spec: images to move, where to run them, how to judge them.

A workload drill copies each service's image from its source registry to the target
registry, starts it on the target container runtime, waits until it is healthy and,
when asked, checks that it serves objects the drill migrated.
"""

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from exitkit.drill.spec_base import ENV_NAME, Duration, Size, Strict

IMAGE_REFERENCE = r"^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._/-]*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"

class RegistryCredentials(Strict):
    """Names of the environment variables holding a registry login; never the values."""

    username_env: str = Field(pattern=ENV_NAME)
    password_env: str = Field(pattern=ENV_NAME)


class RegistryAccess(Strict):
    """How to reach one registry host."""

    tls_verify: bool = True
    credentials: RegistryCredentials | None = None


class TargetRegistry(Strict):
    """Where images move to: ``host[:port]`` and an optional repository namespace."""

    host: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*(:[0-9]+)?$")
    namespace: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*)?$")


class Runtime(Strict):
    """The target container runtime: a Docker Engine API (Docker, or Podman's service)."""

    driver: Literal["docker"] = "docker"
    url: str = Field(pattern=r"^https?://[^/\s]+$", description="http(s)://host:port")
    catalog: str | None = Field(default=None, description="catalog entry that prices it")


class Port(Strict):
    """A container port published on the runtime host."""

    container: int = Field(ge=1, le=65535)
    host: int = Field(ge=1, le=65535)


class Resources(Strict):
    """CPU and memory limits; also what the workload is priced by."""

    cpus: float = Field(gt=0, le=512)
    memory: Size


class HttpCheck(Strict):
    """Healthy when GET *path* on the published *port* answers *status* with *body_contains*."""

    port: int = Field(ge=1, le=65535, description="container port (published, or host network)")
    path: str = Field(default="/", pattern=r"^/")
    status: int = Field(default=200, ge=100, le=599)
    body_contains: str | None = None


class CommandCheck(Strict):
    """Healthy when *command* run inside the container exits with *exit_code*."""

    command: list[str] = Field(min_length=1)
    exit_code: int = 0


class HealthCheck(Strict):
    """One health check with the time the workload has to pass it after it starts."""

    http: HttpCheck | None = None
    exec: CommandCheck | None = None
    deadline: Duration = timedelta(seconds=60)
    interval: Duration = timedelta(seconds=0.5)

    @model_validator(mode="after")
    def _one_kind(self) -> "HealthCheck":
        if (self.http is None) == (self.exec is None):
            raise ValueError("give exactly one of 'http' or 'exec'")
        return self


class DataCheck(Strict):
    """Check that the workload serves migrated objects: GET *path* (with ``{key}`` for the
    object's key relative to the drill's target prefix) must return the object's bytes."""

    path: str = Field(pattern=r"^/.*\{key\}")
    port: int = Field(ge=1, le=65535, description="container port")
    prefix: str = Field(default="", description="check only objects under this relative prefix")
    objects: int = Field(default=5, ge=1, le=1000)


class Service(Strict):
    """One containerised workload."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    image: str = Field(pattern=IMAGE_REFERENCE, description="source image reference")
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, str] = Field(default_factory=dict, description="container variable: "
                                       "name of the environment variable holding its value")
    ports: list[Port] = Field(default_factory=list)
    network: Literal["bridge", "host"] = "bridge"
    resources: Resources
    health: HealthCheck
    data: DataCheck | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Service":
        for name in (*self.env, *self.secret_env):
            if not _is_env_name(name):
                raise ValueError(f"not an environment variable name: {name!r}")
        for variable in self.secret_env.values():
            if not _is_env_name(variable):
                raise ValueError(f"not an environment variable name: {variable!r}")
        if clash := set(self.env) & set(self.secret_env):
            raise ValueError(f"set in both env and secret_env: {', '.join(sorted(clash))}")
        if self.network == "host" and any(p.host != p.container for p in self.ports):
            raise ValueError("with network 'host' a port's host and container numbers are equal")
        return self


class Workloads(Strict):
    """The workload part of a drill."""

    registry: TargetRegistry
    registries: dict[str, RegistryAccess] = Field(default_factory=dict,
                                                  description="access settings per registry host")
    runtime: Runtime
    source_catalog: str | None = Field(default=None, description="catalog entry pricing the "
                                       "workloads where they run now; default: the drill source's")
    data_endpoint: str | None = Field(default=None, pattern=r"^https?://", description="the "
                                      "target's S3 endpoint as the workloads reach it; default: "
                                      "the drill target's endpoint")
    services: list[Service] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> "Workloads":
        names = [service.name for service in self.services]
        if len(names) != len(set(names)):
            raise ValueError("service names must be unique")
        return self


def _is_env_name(name: str) -> bool:
    return re.fullmatch(ENV_NAME, name) is not None
