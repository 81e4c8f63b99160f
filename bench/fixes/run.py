"""Suggested fixes on real failing builds: does the shown patch apply and make the same build pass?

    python bench/fixes/run.py [--only NAME] [--capture tests/fixtures/fixes] [--json OUT]

Each case under bench/fixes/cases/ is a small project that fails to build and a `case.yaml` with the build
command and `fixit:` (whether the tool prints a fix-it for this failure, read off its output by a person).
Per case: copy the project to a temporary directory, run the real build (cargo, gcc, python, ruff, mypy,
tsc, eslint, go, javac), analyze its output with `agent.engine.analyze`, ask `agent.fixes.suggest` for a
validated fix with the temporary copy as the checkout, then check the shown patch independently with
`git apply --check`, apply it with `git apply` and run the same build again.

Reported: builds whose patch applies and makes the build pass (all builds, and those whose tool printed a
fix-it: target >= 80%), and wrong patches shown (shown but refused by git apply, or not making the build
pass: target 0 refused). `--capture DIR` writes each build's output as DIR/<case>.log and the shown patch
as DIR/<case>.diff, the golden fixtures of tests/test_fix_golden.py.

TypeScript and ESLint come from npm into --node-tools (installed there once with the npm client).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from agent.engine import analyze
from agent.fixes import suggest
from agent.logtext import LINE_BREAK

CASES = Path(__file__).parent / "cases"
NODE_PACKAGES = ("typescript@5.9.3", "eslint@9.39.5")
BUILD_TIMEOUT = 300


@dataclass
class Outcome:
    case: str
    fixit: bool  # the tool printed a fix-it (ground truth from case.yaml)
    build_failed: bool
    shown: bool  # a validated patch was put in the diagnosis
    git_apply_ok: bool | None
    fixed: bool  # the patch applied and the same build then passed
    notes: list[str]
    rules: list[str]


def tools(node_dir: Path) -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    if not (node_dir / "node_modules/.bin/tsc").exists():
        node_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node_dir), *NODE_PACKAGES],
            check=True,
            capture_output=True,
        )
    return {
        "python": sys.executable,
        "ruff": str(venv_bin / "ruff"),
        "mypy": str(venv_bin / "mypy"),
        "tsc": str(node_dir / "node_modules/.bin/tsc"),
        "eslint": str(node_dir / "node_modules/.bin/eslint"),
    }


def build(command: list[str], where: Path) -> tuple[int, str]:
    env = {**os.environ, "CARGO_TERM_COLOR": "never", "NO_COLOR": "1"}
    done = subprocess.run(
        command, cwd=where, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    return done.returncode, done.stdout + done.stderr


def reader_for(root: Path):  # type: ignore[no-untyped-def]
    def read(path: str) -> bytes | None:
        target = root / path
        return target.read_bytes() if target.is_file() else None

    return read


def run_case(case: Path, tool: dict[str, str], capture: Path | None) -> Outcome:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    command = [part.format(**tool) for part in spec["build"]]
    with tempfile.TemporaryDirectory(prefix=f"cimedic-fix-{case.name}-") as tmp:
        work = Path(tmp) / case.name
        shutil.copytree(case, work, ignore=shutil.ignore_patterns("case.yaml"))
        code, log = build(command, work)
        outcome = Outcome(case.name, bool(spec["fixit"]), code != 0, False, None, False, [], [])
        if code == 0:
            outcome.notes.append("the build did not fail")
            return outcome
        diagnosis = suggest(analyze(log, source=case.name), LINE_BREAK.split(log), reader_for(work))
        outcome.notes = list(diagnosis.fix_notes)
        if capture is not None:
            capture.mkdir(parents=True, exist_ok=True)
            (capture / f"{case.name}.log").write_text(log)
            diff_file = capture / f"{case.name}.diff"
            if diagnosis.fix is not None:
                diff_file.write_text(diagnosis.fix.patch)
            else:
                diff_file.unlink(missing_ok=True)
        if diagnosis.fix is None:
            return outcome
        outcome.shown = True
        outcome.rules = diagnosis.fix.rules
        patch = Path(tmp) / "fix.diff"
        patch.write_text(diagnosis.fix.patch)
        check = subprocess.run(
            ["git", "apply", "--check", str(patch)], cwd=work, capture_output=True, check=False
        )
        outcome.git_apply_ok = check.returncode == 0
        if not outcome.git_apply_ok:
            outcome.notes.append("git apply --check: " + check.stderr.decode(errors="replace").strip())
            return outcome
        subprocess.run(["git", "apply", str(patch)], cwd=work, check=True, capture_output=True)
        code, after = build(command, work)
        outcome.fixed = code == 0
        if code != 0:
            outcome.notes.append("still fails: " + " | ".join(after.strip().splitlines()[:3]))
        return outcome


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "0/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--capture", type=Path, help="write <case>.log and <case>.diff here")
    parser.add_argument("--json", type=Path, help="write the per-case results here")
    parser.add_argument("--node-tools", type=Path, default=Path(tempfile.gettempdir()) / "cimedic-bench-node")
    args = parser.parse_args()
    tool = tools(args.node_tools)
    results = [
        run_case(case, tool, args.capture)
        for case in sorted(p for p in CASES.iterdir() if p.is_dir())
        if not args.only or args.only in case.name
    ]
    for r in results:
        status = "FIXED" if r.fixed else ("shown, not fixed" if r.shown else "no patch")
        print(f"{r.case:28} fixit={'yes' if r.fixit else 'no ':3} {status:17} {'; '.join(r.notes)[:160]}")
    failed = [r for r in results if r.build_failed]
    with_fixit = [r for r in failed if r.fixit]
    shown = [r for r in failed if r.shown]
    print()
    print(f"builds that failed as intended     {share(len(failed), len(results))}")
    print(f"patch shown                        {share(len(shown), len(failed))}")
    print(f"fixed (applies, same build passes) {share(sum(r.fixed for r in failed), len(failed))}")
    print(f"fixed where the tool printed a fix-it {share(sum(r.fixed for r in with_fixit), len(with_fixit))}")
    print(
        f"shown but refused by git apply     {share(sum(r.git_apply_ok is False for r in shown), len(shown))}"
    )
    print(f"shown but build still fails        {share(sum(not r.fixed for r in shown), len(shown))}")
    print(f"shown where no fix-it was printed  {sum(r.shown and not r.fixit for r in failed)}")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")


if __name__ == "__main__":
    main()
