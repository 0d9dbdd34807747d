"""Read a drill spec file: YAML with line numbers, ``${VAR}`` expansion, validation, secrets.

Every problem becomes one :class:`SpecError` naming the file, the line and the field.
"""

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from exitkit.drill.spec import DrillSpec, Endpoint
from exitkit.errors import SpecError
from exitkit.redaction import register_secret

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Keys:
    """Resolved credentials for one endpoint; the values never leave this object unmasked."""

    access_key: SecretStr
    secret_key: SecretStr


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with where it came from and the credentials it names."""

    spec: DrillSpec
    path: str
    sha256: str
    source_keys: Keys | None
    target_keys: Keys | None


def load_spec(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> LoadedSpec:
    """Read, expand, validate *path* and resolve its credentials, or raise SpecError.

    ``${VAR}`` references and credential variables are looked up in *environ*
    (default: the process environment).
    """
    name = str(path)
    environ = os.environ if environ is None else environ
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(name, None, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise SpecError(name, None, None, "not UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f" (column {mark.column + 1})" if mark else ""
        raise SpecError(name, line, None, f"malformed YAML: {exc.problem}{column}") from None
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(name, 1, None, "a drill spec must be a YAML mapping")
    _reject_duplicate_keys(name, root)
    data = _expand(name, root, yaml.safe_load(text), (), environ)
    try:
        spec = DrillSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(part) for part in error["loc"])
        problem = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problem = problem.removeprefix("Value error, ")
        raise SpecError(name, _line_of(root, loc), ".".join(loc) or None, problem) from None
    return LoadedSpec(
        spec=spec,
        path=name,
        sha256=hashlib.sha256(raw).hexdigest(),
        source_keys=_resolve_keys(name, root, "source", spec.source, environ),
        target_keys=_resolve_keys(name, root, "target", spec.target, environ),
    )


def _reject_duplicate_keys(name: str, node: yaml.Node) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise SpecError(name, key.start_mark.line + 1, key.value, "duplicate key")
            seen.add(key.value)
            _reject_duplicate_keys(name, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(name, item)


def _line_of(root: yaml.Node, loc: tuple[str, ...]) -> int:
    """Line (1-based) of the deepest node along *loc* that exists in the YAML tree."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _expand(name: str, root: yaml.Node, value: Any, loc: tuple[str, ...],
            environ: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string with the environment's value."""
    if isinstance(value, dict):
        return {key: _expand(name, root, item, (*loc, str(key)), environ)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(name, root, item, (*loc, str(i)), environ) for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        variable, default = match.groups()
        found = environ.get(variable, default)
        if found is None:
            raise SpecError(name, _line_of(root, loc), ".".join(loc),
                            f"environment variable {variable} is not set")
        return found

    return _ENV_REFERENCE.sub(substitute, value)


def _resolve_keys(name: str, root: yaml.Node, side: str, endpoint: Endpoint,
                  environ: Mapping[str, str]) -> Keys | None:
    if endpoint.credentials is None:
        return None
    values = []
    for field in ("access_key_env", "secret_key_env"):
        variable = getattr(endpoint.credentials, field)
        value = environ.get(variable)
        if not value:
            loc = (side, "credentials", field)
            raise SpecError(name, _line_of(root, loc), ".".join(loc),
                            f"environment variable {variable} is not set")
        register_secret(value)
        values.append(SecretStr(value))
    return Keys(*values)
