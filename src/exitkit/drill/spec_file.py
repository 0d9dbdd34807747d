"""Read a drill spec file: YAML with line numbers, ``${VAR}`` expansion, validation, secrets.

Every problem becomes one :class:`SpecError` naming the file, the line and the field.
"""

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from exitkit.drill.spec import DrillSpec, Endpoint, EvidenceStore, ServiceAccount
from exitkit.drill.vm_spec import VmSource
from exitkit.redaction import register_secret
from exitkit.yamlfile import YamlDocument, read_yaml

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Keys:
    """Resolved credentials for one endpoint; the values never leave this object unmasked.

    S3 endpoints have an access and a secret key; ``secrets`` holds the other named
    secrets: a GCS ``service_account`` key, an rclone remote's secret options."""

    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    sas: bool = False  # secret_key holds an Azure SAS token, not a key
    secrets: Mapping[str, SecretStr] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class WorkloadSecrets:
    """Registry logins by host and secret container variables by service, resolved."""

    registry_logins: dict[str, tuple[SecretStr, SecretStr]]
    service_env: dict[str, dict[str, SecretStr]]

    def logins(self) -> dict[str, tuple[str, str]]:
        """The logins in clear, for handing to the image copy."""
        return {host: (user.get_secret_value(), password.get_secret_value())
                for host, (user, password) in self.registry_logins.items()}

    def env(self) -> dict[str, dict[str, str]]:
        """The secret container variables in clear, for handing to the runtime."""
        return {service: {name: value.get_secret_value() for name, value in values.items()}
                for service, values in self.service_env.items()}


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with where it came from and the credentials it names."""

    spec: DrillSpec
    path: str
    sha256: str
    source_keys: Keys | None
    target_keys: Keys | None
    store_keys: Keys | None = None
    workload_secrets: WorkloadSecrets | None = None
    vm_keys: Keys | None = None


def load_spec(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> LoadedSpec:
    """Read, expand, validate *path* and resolve its credentials, or raise SpecError.

    ``${VAR}`` references and credential variables are looked up in *environ*
    (default: the process environment).
    """
    environ = os.environ if environ is None else environ
    document = read_yaml(path, "drill spec")
    spec = _anchor_rclone_configs(
        document.validate(DrillSpec, _expand(document, document.data, (), environ)),
        Path(document.path).parent)
    return LoadedSpec(
        spec=spec,
        path=document.path,
        sha256=hashlib.sha256(document.raw).hexdigest(),
        source_keys=_resolve_keys(document, ("source",), spec.source, environ),
        target_keys=_resolve_keys(document, ("target",), spec.target, environ),
        store_keys=_resolve_keys(document, ("evidence", "store"), spec.evidence.store, environ),
        workload_secrets=_resolve_workload_secrets(document, spec, environ),
        vm_keys=_resolve_keys(document, ("vms", "source"), spec.vms.source if spec.vms else None,
                              environ),
    )


def _expand(document: YamlDocument, value: Any, loc: tuple[str, ...],
            environ: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string with the environment's value."""
    if isinstance(value, dict):
        return {_expand(document, key, loc, environ): _expand(document, item, (*loc, str(key)),
                                                               environ)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(document, item, (*loc, str(i)), environ) for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        variable, default = match.groups()
        found = environ.get(variable, default)
        if found is None:
            raise document.error(loc, f"environment variable {variable} is not set")
        return found

    return _ENV_REFERENCE.sub(substitute, value)


def _anchor_rclone_configs(spec: DrillSpec, spec_dir: Path) -> DrillSpec:
    """The spec with each rclone.conf path made absolute (it is relative to the spec)."""
    sides = {}
    for side in ("source", "target"):
        endpoint = getattr(spec, side)
        remote = endpoint.rclone
        if remote is not None and remote.config:
            anchored = remote.model_copy(update={"config": str(spec_dir / remote.config)})
            sides[side] = endpoint.model_copy(update={"rclone": anchored})
    return spec.model_copy(update=sides) if sides else spec


def _resolve_keys(document: YamlDocument, loc: tuple[str, ...],
                  endpoint: Endpoint | EvidenceStore | VmSource | None,
                  environ: Mapping[str, str]) -> Keys | None:
    remote = getattr(endpoint, "rclone", None)
    if remote is not None:
        return Keys(secrets={option: _secret(document, (*loc, "rclone", "secret_env", option),
                                             variable, environ)
                             for option, variable in remote.secret_env.items()})
    if endpoint is None or endpoint.credentials is None:
        return None
    if isinstance(endpoint.credentials, ServiceAccount):
        variable = endpoint.credentials.service_account_env
        return Keys(secrets={"service_account": _secret(
            document, (*loc, "credentials", "service_account_env"), variable, environ)})
    values = []
    sas = endpoint.credentials.sas_token_env is not None
    for field in ("access_key_env", "sas_token_env" if sas else "secret_key_env"):
        variable = getattr(endpoint.credentials, field)
        value = environ.get(variable)
        if not value:
            raise document.error((*loc, "credentials", field),
                                 f"environment variable {variable} is not set")
        register_secret(value)
        values.append(SecretStr(value))
    return Keys(*values, sas=sas)


def _secret(document: YamlDocument, loc: tuple[str, ...], variable: str,
            environ: Mapping[str, str]) -> SecretStr:
    value = environ.get(variable)
    if not value:
        raise document.error(loc, f"environment variable {variable} is not set")
    register_secret(value)
    return SecretStr(value)


def _resolve_workload_secrets(document: YamlDocument, spec: DrillSpec,
                              environ: Mapping[str, str]) -> WorkloadSecrets | None:
    if spec.workloads is None:
        return None
    logins = {}
    for host, access in spec.workloads.registries.items():
        if access.credentials is not None:
            loc = ("workloads", "registries", host, "credentials")
            logins[host] = (
                _secret(document, (*loc, "username_env"), access.credentials.username_env, environ),
                _secret(document, (*loc, "password_env"), access.credentials.password_env, environ))
    service_env = {
        service.name: {name: _secret(document, ("workloads", "services", str(index),
                                                "secret_env", name), variable, environ)
                       for name, variable in service.secret_env.items()}
        for index, service in enumerate(spec.workloads.services)}
    return WorkloadSecrets(logins, service_env)
