"""The lock files cover pyproject.toml: every declared dependency pinned, within its range, with hashes.

``requirements.lock`` (the runtime) and ``requirements-test.lock`` (the runtime and the ``test`` extra,
resolved under the runtime lock) are what ``make run``/``make test``, Binder and the image install.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .helpers import REPO

LINUX = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11", "os_name": "posix"}
#: The extras that pull in packages of their own (name -> what the extra adds).
EXTRAS = {("mlflow", "auth"): ["flask-wtf"]}


def pins(lock: str) -> dict[str, tuple[str, int]]:
    """Package -> (pinned version, number of hashes) of a lock file made by ``uv pip compile --generate-hashes``."""
    found: dict[str, tuple[str, int]] = {}
    name = None
    for line in (REPO / lock).read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if pinned:
            name = canonicalize_name(pinned.group(1))
            found[name] = (pinned.group(2), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            found[name] = (found[name][0], found[name][1] + 1)
    return found


def declared(extra: str | None = None) -> list[Requirement]:
    """The requirements of the runtime or of one extra; ``nbprod[x]`` (an extra naming another) expanded."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    found = []
    for requirement in map(Requirement, listed):
        if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
            found += [item for name in sorted(requirement.extras) for item in declared(name)]
        else:
            found.append(requirement)
    return found


@pytest.mark.parametrize(("lock", "extra"), [("requirements.lock", None), ("requirements-test.lock", None),
                                             ("requirements-test.lock", "test")])
def test_every_declared_dependency_is_pinned_within_its_range_with_hashes(lock, extra):
    locked = pins(lock)
    for requirement in declared(extra):
        if requirement.marker is not None and not requirement.marker.evaluate(LINUX):
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in {lock}: lock again (see its first lines)"
        version, hashes = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{lock} pins {name}=={version}, " \
                                                                          f"outside {requirement}"
        assert hashes > 0, f"{lock}: {name} has no hash"
        for added in [package for extra_name in requirement.extras
                      for package in EXTRAS.get((name, extra_name), [])]:
            assert added in locked, f"{lock} lacks {added}, which {requirement} pulls in"


def test_the_test_lock_agrees_with_the_runtime_lock():
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert {name: version for name, (version, _) in runtime.items()} == \
           {name: test[name][0] for name in runtime}


def test_the_locks_pin_mlflow_past_the_2026_advisories():
    from packaging.version import Version

    for lock in ("requirements.lock", "requirements-test.lock"):
        assert Version(pins(lock)["mlflow"][0]) >= Version("3.11")


def test_make_and_binder_install_the_locked_dependencies_with_hashes():
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--require-hashes -r requirements-test.lock" in makefile
    assert "--require-hashes -r requirements.lock" in (REPO / "binder" / "postBuild").read_text()
