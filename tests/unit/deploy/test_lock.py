"""pyproject.toml and the lock files (requirements/*.txt, written by `make lock`) agree.

The image installs requirements/runtime.txt and `make install` requirements/dev.txt, both with
`pip install --require-hashes`: a dependency added to pyproject.toml but not locked would be missing from
both. Each failure names the package and says to run `make lock`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, [sha256 hashes])} of a lock file."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (LOCKS / lock).read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            out[current] = (match.group(2), [])
        elif current and (hashes := re.findall(r"--hash=sha256:([0-9a-f]{64})", line)):
            out[current][1].extend(hashes)
        elif not line.startswith(" "):
            current = None
    return out


def _missing(requirements: list[str], lock: str) -> list[str]:
    locked = pins(lock)
    problems = []
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req.name} ({text}) is not in requirements/{lock}")
        elif not req.specifier.contains(locked[name][0], prereleases=True):
            problems.append(f"{req.name}: requirements/{lock} pins {locked[name][0]}, pyproject.toml wants {text}")
    return problems


def test_every_runtime_dependency_is_locked_at_an_allowed_version():
    problems = _missing(PYPROJECT["project"]["dependencies"], "runtime.txt")
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_every_dev_deploy_and_runtime_dependency_is_locked_for_make_install():
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = PYPROJECT["project"]["dependencies"] + extras["dev"] + extras["deploy"]
    problems = _missing(wanted, "dev.txt")
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_build_backend_is_locked():
    problems = _missing(PYPROJECT["build-system"]["requires"], "build.txt")
    assert not problems, "run `make lock`: " + "; ".join(problems)


@pytest.mark.parametrize("lock", ["runtime.txt", "dev.txt", "build.txt"])
def test_every_pin_has_a_sha256_hash(lock):
    unhashed = [name for name, (_, hashes) in pins(lock).items() if not hashes]
    assert pins(lock) and not unhashed, f"requirements/{lock}: no hash for {unhashed}"


def test_make_install_gets_the_versions_the_image_runs():
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    differ = {n: (v, dev.get(n, ("missing",))[0]) for n, (v, _) in runtime.items() if dev.get(n, ("",))[0] != v}
    assert not differ, f"runtime.txt vs dev.txt: {differ}; run `make lock`"


def test_the_lock_cannot_drift_from_a_hand_edit():
    """Pins are unique and sorted: the files are written by `make lock` only."""
    for lock in ("runtime.txt", "dev.txt", "build.txt"):
        names = [
            canonicalize_name(m.group(1)) for line in (LOCKS / lock).read_text().splitlines() if (m := PIN.match(line))
        ]
        assert names == sorted(set(names)), lock
