"""What the GitHub Action's install step costs: action.yml's commands in a fresh virtualenv (issue 15).

For each source tree given (e.g. a `git archive` of the commit before and of the one after a change), in turn:
a new venv, `pip install --upgrade pip`, `pip install SOURCE` (the step's own commands), timed, `--rounds`
times; pip's cache is the user's, so every round after the first is "with pip's cache warm", as on a runner
that restores ~/.cache/pip. Prints each round's wall time and what was installed (distributions, MB).

    python bench/action_install.py /tmp/src-before /tmp/src-after --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def one_round(source: Path, python: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cimedic-action-venv-") as tmp:
        venv = Path(tmp) / "venv"
        started = time.perf_counter()
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = str(venv / "bin" / "pip")
        subprocess.run([pip, "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([pip, "install", "--quiet", str(source)], check=True)
        wall = time.perf_counter() - started
        listed = subprocess.run(
            [pip, "list", "--format", "json"], check=True, capture_output=True, text=True
        ).stdout
        names = sorted(d["name"].lower() for d in json.loads(listed))
        size = sum(f.stat().st_size for f in site_packages(venv).rglob("*") if f.is_file())
    return {
        "wall_s": round(wall, 1),
        "distributions": len(names),
        "site_packages_mb": round(size / 2**20),
        "names": names,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=shutil.which("python3.11") or sys.executable)
    ns = parser.parse_args()
    for round_ in range(ns.rounds):
        for source in ns.sources:  # alternating: a change of load hits every source alike
            result = one_round(source, ns.python)
            names = result.pop("names")
            print(json.dumps({"round": round_, "source": str(source), **result}), flush=True)
            if round_ == ns.rounds - 1:
                print(json.dumps({"source": str(source), "installed": names}), flush=True)


if __name__ == "__main__":
    main()
