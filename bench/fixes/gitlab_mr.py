"""The shown fixes as GitLab draft fix MRs: does the branch GitLab then holds make the same build pass?

    python bench/fixes/gitlab_mr.py [--only NAME]

The cases of bench/fixes/run.py, through the service's GitLab path instead of `git apply`. Per case whose
build fails and gets a shown patch, a project in the GitLab simulator (tests/gitlab_sim) holds the case's
files at the failing commit with a merge request on it; the fix is checked again through the API's raw
files (`webhooks.gitlab_files.GitLabFiles`, as `webhooks.fix_outputs.publish_fixes` does) and
`actions.fix_mr.ensure_fix_mr` makes the commit and the draft MR. The changed files are then read back from
the fix branch through the API, written over a fresh copy of the case, and the same build runs again.

Reported: fix MRs opened, fix branches whose build passes, API requests per fix MR, and the median time of
`ensure_fix_mr` against the simulator on 127.0.0.1 (our side's cost, not GitLab's).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "tests"))

from gitlab_sim import GitLabSim
from run import CASES, build, reader_for, share, tools

from actions.fix_mr import ensure_fix_mr
from actions.fix_request import FixBranch, branch_name
from agent.engine import analyze
from agent.fixes import Patch, Validated, suggest, validate
from agent.logtext import LINE_BREAK
from webhooks.gitlab_files import GitLabFiles
from webhooks.gitlab_forge import connect


def tree(case: Path) -> dict[str, str]:
    """The case's sources (before any build wrote next to them)."""
    return {
        p.relative_to(case).as_posix(): p.read_text(errors="replace")
        for p in sorted(case.rglob("*"))
        if p.is_file() and p.name != "case.yaml"
    }


def run_case(sim: GitLabSim, case: Path, tool: dict[str, str]) -> dict[str, object]:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    command = [part.format(**tool) for part in spec["build"]]
    out: dict[str, object] = {
        "case": case.name,
        "fixit": bool(spec["fixit"]),
        "opened": False,
        "fixed": False,
    }
    with tempfile.TemporaryDirectory(prefix=f"cimedic-fixmr-{case.name}-") as tmp:
        work = Path(tmp) / case.name
        shutil.copytree(case, work, ignore=shutil.ignore_patterns("case.yaml"))
        code, log = build(command, work)
        diagnosis = suggest(analyze(log, source=case.name), LINE_BREAK.split(log), reader_for(work))
        if code == 0 or diagnosis.fix is None:
            return out
        fix = diagnosis.fix
        pid = int(sim.add_project(f"bench/{case.name}")["id"])
        sha = f"{pid:040x}"
        sim.add_commit(pid, tree(case), sha=sha, branch="feature")
        mr = sim.add_mr(pid, 1, source_branch="feature", sha=sha)
        gl = connect(sim.url, sim.token)
        reader = GitLabFiles(gl, pid, sha)
        again = validate(Patch(fix.source, fix.title, diff=fix.patch, lockfile_fix=True), reader)
        assert isinstance(again, Validated), again
        before = len(sim.api_calls())
        started = time.perf_counter()
        result = ensure_fix_mr(
            gl,
            pid,
            mr,
            sha,
            fix,
            again.results,
            diagnosis.fingerprint,
            existed=lambda path: reader(path) is not None,
            known=FixBranch(),
            attempts=0,
        )
        out["seconds"] = time.perf_counter() - started
        out["requests"] = len(sim.api_calls()) - before
        out["opened"] = result.outcome == "created"
        fresh = Path(tmp) / "fresh"
        shutil.copytree(case, fresh, ignore=shutil.ignore_patterns("case.yaml"))
        project = gl.projects.get(pid, lazy=True)
        for path, text in again.results.items():
            if text is None:
                (fresh / path).unlink()
                continue
            raw = project.files.raw(file_path=path, ref=branch_name(diagnosis.fingerprint))
            assert isinstance(raw, bytes)
            (fresh / path).parent.mkdir(parents=True, exist_ok=True)
            (fresh / path).write_bytes(raw)
        out["fixed"] = build(command, fresh)[0] == 0
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--node-tools", type=Path, default=Path(tempfile.gettempdir()) / "cimedic-bench-node")
    args = parser.parse_args()
    tool = tools(args.node_tools)
    sim = GitLabSim().start()
    try:
        results = [
            run_case(sim, case, tool)
            for case in sorted(p for p in CASES.iterdir() if p.is_dir())
            if not args.only or args.only in case.name
        ]
    finally:
        sim.stop()
    for r in results:
        fixit = "yes" if r["fixit"] else "no "
        print(f"{r['case']:28} fixit={fixit} opened={r['opened']!s:5} fixed={r['fixed']}")
    opened = [r for r in results if r["opened"]]
    with_fixit = [r for r in results if r["fixit"]]
    print()
    print(f"fix MRs opened                          {len(opened)}")
    print(
        f"fix branches whose build passes         {share(sum(bool(r['fixed']) for r in opened), len(opened))}"
    )
    fixed = sum(bool(r["fixed"]) for r in with_fixit)
    print(f"builds with a fix-it fixed by a fix MR  {share(fixed, len(with_fixit))}")
    if opened:
        print(f"API requests per fix MR (median)        {median(int(str(r['requests'])) for r in opened)}")
        print(
            f"ensure_fix_mr seconds (median)          {median(float(str(r['seconds'])) for r in opened):.3f}"
        )


if __name__ == "__main__":
    main()
