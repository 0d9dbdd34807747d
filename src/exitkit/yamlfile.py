"""Read YAML files so that every problem names the file, the line and the field."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from exitkit.errors import SpecError

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML mapping with its node tree (for line numbers) and raw bytes."""

    path: str
    raw: bytes
    root: yaml.MappingNode
    data: dict[str, Any]

    def line_of(self, loc: tuple[str, ...]) -> int:
        """Line (1-based) of the deepest node along *loc* that exists in the YAML tree."""
        node, line = self.root, self.root.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == part), None)
                if match is None:
                    break
                line = match[0].start_mark.line + 1
                node = match[1]
            elif (isinstance(node, yaml.SequenceNode) and part.isdigit()
                  and int(part) < len(node.value)):
                node = node.value[int(part)]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def error(self, loc: tuple[str, ...], problem: str) -> SpecError:
        """A one-line error pointing at *loc*."""
        return SpecError(self.path, self.line_of(loc), ".".join(loc) or None, problem)

    def validate(self, model: type[Model], data: dict[str, Any] | None = None) -> Model:
        """Validate *data* (default: the document) as *model*, or raise a one-line SpecError."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = tuple(str(part) for part in error["loc"])
            problem = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            raise self.error(loc, problem.removeprefix("Value error, ")) from None


def read_yaml(path: str | os.PathLike[str], what: str) -> YamlDocument:
    """Parse *path* as a YAML mapping (a *what*); refuse malformed YAML and duplicate keys."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(name, None, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        root, data = _parse(text)
    except UnicodeDecodeError:
        raise SpecError(name, None, None, "not UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f" (column {mark.column + 1})" if mark else ""
        raise SpecError(name, line, None, f"malformed YAML: {exc.problem}{column}") from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise SpecError(name, line, None, f"malformed YAML: {exc.reason} "
                                          f"(character #x{exc.character:04x})") from None
    except yaml.YAMLError as exc:
        raise SpecError(name, None, None, f"malformed YAML: {type(exc).__name__}") from None
    except ValueError as exc:  # a scalar YAML resolves but cannot build, e.g. 2026-13-45
        raise SpecError(name, None, None, f"malformed YAML: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(name, 1, None, f"a {what} must be a YAML mapping")
    _reject_duplicate_keys(name, root)
    return YamlDocument(name, raw, root, data)


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data of *text*, parsed once: by libyaml when it is built in
    (and accepts the text), else, and for the error a malformed text gets, by PyYAML's
    own parser."""
    if getattr(yaml, "CSafeLoader", None) is not None:
        try:
            return _compose_and_construct(yaml.CSafeLoader(text))
        except (yaml.YAMLError, ValueError):
            pass  # reported below, with PyYAML's lines and messages
    return _compose_and_construct(yaml.SafeLoader(text))


def _compose_and_construct(loader: yaml.SafeLoader) -> tuple[yaml.Node | None, Any]:
    try:
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()


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
