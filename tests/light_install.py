"""A light install of CI Medic (`pip install .`, optionally with some extras), made from the test venv.

What pip would install is worked out from pyproject.toml and the installed distributions' own metadata
(`Requires-Dist`, markers evaluated for this interpreter: packaging.python.org/en/latest/specifications/
dependency-specifiers); their files are linked into a new site directory, and commands run with `python -S`
(no site-packages: docs.python.org/3/library/site.html) on that directory alone. So a package of a missing
extra is absent as it is on a user's machine: `import` raises ModuleNotFoundError and
`importlib.util.find_spec` answers None, with no finder of ours in the way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def extras() -> dict[str, list[Requirement]]:
    return {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}


def _own(extra_names: Iterable[str]) -> list[Requirement]:
    """CI Medic's requirements with `extra_names`, its self-references (`cimedic[kb]`) expanded."""
    declared = extras()
    todo, seen, out = list(extra_names), set[str](), [Requirement(r) for r in PROJECT["dependencies"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for req in declared[name]:
            if canonicalize_name(req.name) == "cimedic":
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def distributions(extra_names: Iterable[str] = ()) -> set[str]:
    """The (canonical) names of the distributions `pip install '.[extra_names]'` brings, as installed here."""
    todo = [(req, "") for req in _own(extra_names)]
    found: dict[str, set[str]] = {}
    while todo:
        req, wanted_by = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": wanted_by}):
            continue
        name = canonicalize_name(req.name)
        new = set(req.extras) - found.get(name, {"-"})
        if name in found and not new:
            continue
        found.setdefault(name, set()).update(req.extras)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not for this platform, or pulled only under a marker that does not hold here
        for line in dist.requires or []:
            sub = Requirement(line)
            todo.extend((sub, extra) for extra in ("", *req.extras))
    return set(found)


def make_site(target: Path, extra_names: Iterable[str] = ()) -> Path:
    """A site directory holding only the files of `distributions(extra_names)` (symbolic links)."""
    keep = distributions(extra_names)
    target.mkdir(parents=True)
    for dist in metadata.distributions():
        if canonicalize_name(dist.metadata["Name"]) not in keep or not dist.files:
            continue
        for file in dist.files:
            src = Path(str(dist.locate_file(file))).resolve()
            if file.parts[0] == ".." or not src.exists():  # scripts in bin/, or pip's record of a deletion
                continue
            dst = target / file
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                dst.symlink_to(src)
    return target


def run(
    site: Path, *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`cimedic ARGS` on the light install in `site`, with this checkout's code."""
    full = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "CIMEDIC_HOME": str(home / "cimedic"),
        "NO_COLOR": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)]),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-S", "-c", "from agent.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=180,
        cwd=home,
    )
