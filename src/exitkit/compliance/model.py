"""The requirement mapping files (``compliance/<framework>.yaml``) and their loader.

Like prowler's compliance files, each framework is data: its requirements, each with an
id, a title, a short paraphrase, the evidence in a drill record that bears on it (record
JSON paths with a check, or expectation names), and what a drill cannot evidence. Every
path is checked against the record's JSON Schema when the file is loaded, so a mapping
cannot point at a field the record does not have; problems name file, line and field.
"""

import fnmatch
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from exitkit.drill.spec import Expectations
from exitkit.drill.spec_base import Strict
from exitkit.errors import ExitkitError
from exitkit.evidence.schema import record_schema
from exitkit.resources import bundled_dir
from exitkit.yamlfile import read_yaml

#: Expectation names a record can carry: the spec's, and each workload's (``<service>:
#: healthy`` and so on; mappings name those as ``*: healthy``).
EXPECTATION_NAMES = tuple(name for name in Expectations.model_fields if name != "accept_gaps")
WORKLOAD_EXPECTATIONS = ("*: image digest", "*: healthy", "*: serves migrated data",
                         "*: torn down")


class Evidence(Strict):
    """One piece of evidence: a record path with a check, or an expectation by name.

    A path with no check must merely be present (not null). ``optional`` evidence counts
    when the record has it and is not missed when it does not. A ``precondition`` says
    which runs can evidence the requirement at all (a scenario, a test type): a run it
    does not hold for leaves the requirement not covered.
    """

    path: str | None = Field(default=None, description="dotted path into the record JSON")
    expectation: str | None = Field(default=None, description="an expectation's name")
    equals: Any = None
    one_of: list[Any] | None = None
    at_least: float | None = None
    at_most: float | None = None
    optional: bool = False
    precondition: bool = Field(default=False, description="when it does not hold, the "
                               "record does not cover the requirement (rather than fail it)")
    shows: str = Field(min_length=1, description="what this evidence shows, in words")

    @model_validator(mode="after")
    def _one_source(self) -> "Evidence":
        if (self.path is None) == (self.expectation is None):
            raise ValueError("give exactly one of 'path' or 'expectation'")
        if self.expectation is not None:
            if any(value is not None for value in (self.equals, self.one_of, self.at_least,
                                                   self.at_most)):
                raise ValueError("an expectation carries its own check: no equals, one_of, "
                                 "at_least or at_most")
            if not known_expectation(self.expectation):
                raise ValueError(f"no expectation is named {self.expectation!r}")
        elif not path_in_schema(self.path):
            raise ValueError(f"the record schema has no field {self.path!r}")
        return self

    def describe_check(self) -> str:
        """The check in words: ``= "passed"``, ``>= 100``, ``present`` (values as JSON)."""
        if self.expectation is not None:
            return "must pass"
        parts = [f"= {json.dumps(self.equals)}" if self.equals is not None else "",
                 f"in {json.dumps(self.one_of)}" if self.one_of is not None else "",
                 f">= {self.at_least:g}" if self.at_least is not None else "",
                 f"<= {self.at_most:g}" if self.at_most is not None else ""]
        return " and ".join(part for part in parts if part) or "present"


class Requirement(Strict):
    """One requirement of a framework and the evidence a drill record gives for it."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._()-]*$")
    reference: str = Field(min_length=1, description="article, section or control")
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=600, description="a short paraphrase, "
                         "never the legal text")
    evidence: list[Evidence] = Field(default_factory=list)
    not_coverable: str | None = Field(default=None, min_length=1, description="what a drill "
                                      "cannot evidence (a document, a contract, a review)")

    @model_validator(mode="after")
    def _says_what_is_missing(self) -> "Requirement":
        if not self.evidence and not self.not_coverable:
            raise ValueError("a requirement without evidence must say why in 'not_coverable'")
        return self


class Framework(Strict):
    """A framework's requirement mapping."""

    framework: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    source: str = Field(description="the official text this paraphrases")
    note: str = ""
    requirements: list[Requirement] = Field(min_length=1)

    @field_validator("requirements")
    @classmethod
    def _unique_ids(cls, requirements: list[Requirement]) -> list[Requirement]:
        ids = [requirement.id for requirement in requirements]
        duplicates = sorted({name for name in ids if ids.count(name) > 1})
        if duplicates:
            raise ValueError(f"requirement ids repeat: {', '.join(duplicates)}")
        return requirements


def known_expectation(name: str) -> bool:
    """True when a record can carry an expectation named *name*."""
    return name in EXPECTATION_NAMES or name in WORKLOAD_EXPECTATIONS


def expectation_matches(pattern: str, name: str) -> bool:
    """True when the record's expectation *name* is the one *pattern* means."""
    return fnmatch.fnmatchcase(name, pattern)


def path_in_schema(path: str, schema: dict | None = None) -> bool:
    """True when the dotted *path* names a field of the record's JSON Schema: object
    properties, any key of a mapping, a numeric index of a list."""
    root = schema or _record_schema()
    definitions = root.get("$defs", {})
    nodes = [root]
    for part in path.split("."):
        nodes = [child for node in nodes for child in _children(node, part, definitions)]
        if not nodes:
            return False
    return True


@cache
def _record_schema() -> dict:
    """The record's JSON Schema, built once (callers only read it)."""
    return record_schema()


def _children(node: dict, part: str, definitions: dict) -> list[dict]:
    node = _resolve(node, definitions)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return [child for branch in node[key]
                    for child in _children(branch, part, definitions)]
    if part in node.get("properties", {}):
        return [node["properties"][part]]
    if isinstance(node.get("additionalProperties"), dict):
        return [node["additionalProperties"]]
    if part.isdigit():
        if "items" in node:
            return [node["items"]]
        prefix = node.get("prefixItems", [])
        return [prefix[int(part)]] if int(part) < len(prefix) else []
    return []


def _resolve(node: dict, definitions: dict) -> dict:
    while "$ref" in node:
        node = definitions[node["$ref"].rsplit("/", 1)[-1]]
    return node


def framework_dir() -> Path:
    """Where the bundled mapping files are."""
    return bundled_dir("compliance")


def framework_names(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """The frameworks with a mapping file, sorted."""
    return sorted(path.stem for path in Path(directory or framework_dir()).glob("*.yaml"))


def load_framework(name: str, directory: str | os.PathLike[str] | None = None) -> Framework:
    """Read and check ``<directory>/<name>.yaml`` (default: the bundled mappings).

    Raises :class:`ExitkitError` for an unknown framework and a one-line SpecError naming
    file, line and field for a bad mapping.
    """
    directory = Path(directory or framework_dir())
    path = directory / f"{name}.yaml"
    if not path.is_file():
        raise ExitkitError(f"--framework: no mapping for {name!r}; one of "
                           f"{', '.join(framework_names(directory))}")
    document = read_yaml(path, "requirement mapping")
    framework = document.validate(Framework)
    if framework.framework != name:
        raise document.error(("framework",), f"names {framework.framework!r}, but the file is "
                                             f"{path.name}")
    return framework
