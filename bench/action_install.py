"""What the GitHub Action's install step costs: each source's own action.yml step, in a fresh runner temp.

For each source tree given (e.g. a `git archive` of the commit before and of the one after a change), in turn:
the "Install CI Medic" step of SOURCE/action.yml run with bash as the runner runs it (RUNNER_TEMP a new
directory, GITHUB_ACTION_PATH=SOURCE, the `llm` input as CIMEDIC_LLM, `python` on PATH the given
interpreter, as actions/setup-python puts it), timed, `--rounds` times; then the first `cimedic action` in
that venv (it stops at its own check of the environment, after importing everything it runs with: the cost
of byte-compiling on first import when the install skipped it). pip's cache is the user's, so every round
after the first is "with pip's cache warm", as on a runner that restores ~/.cache/pip. Prints each round's
wall times and what was installed (distributions, MB).

    python3.11 bench/action_install.py /tmp/src-before /tmp/src-after --rounds 3 [--llm openai:gpt-4.1-mini]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def install_step(source: Path) -> str:
    steps = yaml.safe_load((source / "action.yml").read_text())["runs"]["steps"]
    return str(next(s for s in steps if s.get("name") == "Install CI Medic")["run"])


def one_round(source: Path, python: str, llm: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cimedic-action-") as tmp:
        bin_dir = Path(tmp) / "setup-python"
        bin_dir.mkdir()
        (bin_dir / "python").symlink_to(python)
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "RUNNER_TEMP": tmp,
            "GITHUB_ACTION_PATH": str(source),
            "CIMEDIC_PACKAGE": "",
            "CIMEDIC_LLM": llm,
        }
        started = time.perf_counter()
        subprocess.run(["bash", "-e", "-c", install_step(source)], env=env, check=True)
        wall = time.perf_counter() - started
        venv = Path(tmp) / "cimedic-venv"
        first: list[float] = []
        said = ""
        for _ in range(
            2
        ):  # the first run compiles what it imports (when the install did not), the second not
            started = time.perf_counter()
            out = subprocess.run(
                [str(venv / "bin" / "cimedic"), "action"],
                capture_output=True,
                text=True,
                env={"PATH": "/usr/bin"},
            )
            first.append(time.perf_counter() - started)
            # Its own check of the environment means every import succeeded; anything else is reported.
            works = "GITHUB_REPOSITORY" in out.stdout
            said = "works" if works else (out.stderr.strip().splitlines() or ["?"])[-1]
        listed = subprocess.run(
            [python, "-m", "pip", "--python", str(venv / "bin" / "python"), "list", "--format", "json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        names = sorted(d["name"].lower() for d in json.loads(listed))
        size = sum(f.stat().st_size for f in site_packages(venv).rglob("*") if f.is_file())
    return {
        "install_s": round(wall, 1),
        "first_action_s": round(first[0], 2),
        "second_action_s": round(first[1], 2),
        "action": said,
        "distributions": len(names),
        "site_packages_mb": round(size / 2**20),
        "names": names,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="the runner's Python (default: this one)")
    parser.add_argument("--llm", default="", help="the Action's `llm` input (CIMEDIC_LLM)")
    ns = parser.parse_args()
    python = os.path.realpath(ns.python)
    for round_ in range(ns.rounds):
        for source in ns.sources:  # alternating: a change of load hits every source alike
            result = one_round(source.resolve(), python, ns.llm)
            names = result.pop("names")
            print(json.dumps({"round": round_, "source": str(source), **result}), flush=True)
            if round_ == ns.rounds - 1:
                print(json.dumps({"source": str(source), "installed": names}), flush=True)


if __name__ == "__main__":
    main()
