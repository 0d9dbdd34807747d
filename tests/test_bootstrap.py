"""The README's first command, as written, from a clean clone with only Debian's Python on PATH.

Debian's ``/usr/bin/python3`` is externally managed (PEP 668): pip refuses to install into it,
so the command must set up its own environment. The clone is of the committed HEAD.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PATH = "/usr/bin:/bin"


def readme_commands() -> list[str]:
    """The commands in the README's first shell block, without their comments."""
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def system_environment() -> dict[str, str]:
    """This process's environment without any Python but the system's: no venv, pyenv, paths."""
    dropped = ("VIRTUAL_ENV", "_OLD_VIRTUAL_PATH", "PYTHONPATH", "PYTHONHOME", "PYENV", "CONDA",
               "EXITKIT_")
    environ = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
    environ["PATH"] = SYSTEM_PATH
    return environ


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a README command line in *cwd* with bash, capturing its output."""
    return subprocess.run(["/bin/bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=540)


def site_packages_state(env_dir: Path) -> dict[str, int]:
    """Modification times (ns) of every entry in the environment's site-packages and its stamp."""
    (site,) = env_dir.glob("lib/python3*/site-packages")
    entries = [site, *site.iterdir(), env_dir / ".exitkit-installed"]
    return {str(path): path.stat().st_mtime_ns for path in entries}


def clone_head(destination: Path) -> Path:
    """A clean clone of this repository's committed HEAD at *destination*."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(destination)],
                   check=True)
    subprocess.run(["git", "-C", str(destination), "checkout", "--quiet", head], check=True)
    return destination


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory):
    """A clean clone of HEAD in which the README's first command ran once."""
    clone = clone_head(tmp_path_factory.mktemp("bootstrap") / "exitkit")
    first = run(readme_commands()[0], clone, system_environment())
    return clone, first


def test_readme_demo_command_passes_with_only_the_system_python(bootstrapped):
    clone, first = bootstrapped
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Drill demo: PASSED" in first.stdout
    assert "creating" in first.stderr and "installing exitkit[demo]" in first.stderr
    venv = clone / ".venv"
    assert "home = /usr/bin\n" in (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    (record,) = (clone / "results").glob("demo-*.json")
    assert json.loads(record.read_text(encoding="utf-8"))["verdict"] == "passed"


def test_readme_demo_command_again_reinstalls_nothing(bootstrapped):
    clone, first = bootstrapped
    assert first.returncode == 0, first.stderr[-3000:]
    before = site_packages_state(clone / ".venv")
    again = run(f"{readme_commands()[0]} --objects 40", clone, system_environment())
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Drill demo: PASSED" in again.stdout
    assert "installing" not in again.stderr and "creating" not in again.stderr
    assert site_packages_state(clone / ".venv") == before


def test_an_active_virtual_environment_is_used_instead_of_dot_venv(bootstrapped, tmp_path):
    clone, first = bootstrapped
    assert first.returncode == 0, first.stderr[-3000:]
    other = clone_head(tmp_path / "other-clone")
    active = clone / ".venv"
    before = site_packages_state(active)
    environ = {**system_environment(), "VIRTUAL_ENV": str(active),
               "PATH": f"{active / 'bin'}:{SYSTEM_PATH}"}
    done = run("scripts/dev-env demo", other, environ)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{active}\n" and done.stderr == ""
    assert not (other / ".venv").exists()
    assert site_packages_state(active) == before
