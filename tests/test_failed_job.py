"""The one use case, `diagnose_failed_job`, with an in-memory forge: optional steps degrade, never fail."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fake_forge import FakeForge

from actions.github_api import GitHubError
from agent.failed_job import diagnose_failed_job
from agent.jobs import BaseBranch, BaseFailure, Baseline, JobRef, PullRef
from agent.models import Diagnosis, JobContext, LlmExplanation, SimilarFailure
from agent.ports import ChangeContext

PYTEST_FAIL = (
    b"collected 4 items\n"
    b"tests/test_math.py .F..\n"
    b"=================================== FAILURES ===================================\n"
    b"___________________________________ test_add ___________________________________\n"
    b"    def test_add():\n"
    b">       assert add(1, 2) == 4\n"
    b"E       assert 3 == 4\n"
    b"tests/test_math.py:5: AssertionError\n"
    b"=========================== short test summary info ============================\n"
    b"FAILED tests/test_math.py::test_add - assert 3 == 4\n"
    b"========================= 1 failed, 3 passed in 0.12s =========================\n"
)
GREEN = b"collected 4 items\ntests/test_math.py ....\n4 passed in 0.10s\n"


def job(job_id: int = 7, **kw: object) -> JobRef:
    return JobRef(repo="octo/app", job_id=job_id, job_name="test", run_id=1, head_sha="a" * 40, **kw)  # type: ignore[arg-type]


def forge_with(**answers: object) -> FakeForge:
    forge = FakeForge(logs={7: PYTEST_FAIL}, pulls={7: [PullRef(12, "main")]})
    for name, value in answers.items():
        getattr(forge, name)[7] = value
    return forge


def test_new_failure_with_a_green_baseline() -> None:
    forge = forge_with(bases=BaseBranch(Baseline(GREEN, "https://github.com/octo/app/actions/runs/9/job/3")))
    report = diagnose_failed_job(job(), forge=forge)
    d = report.diagnosis
    assert d.verdict is not None and d.verdict.kind == "new" and d.notes == []
    assert [p.number for p in report.pulls] == [12]
    assert any("assert 3 == 4" in f.text for f in d.focus)


@pytest.mark.parametrize("status", [403, 404])
def test_a_failed_baseline_lookup_is_a_note_not_a_lost_diagnosis(status: int) -> None:
    # GET /repos/{o}/{r}/actions/workflows/{id}/runs answering 404 (workflow gone) or 403 (no actions: read)
    failing = GitHubError(f"GET workflows/{{id}}/runs: HTTP {status}", status=status)
    report = diagnose_failed_job(job(), forge=forge_with(bases=failing))
    d = report.diagnosis
    assert d.verdict is not None and d.verdict.kind == "unsure"
    assert len(d.notes) == 1 and "comparison with `main` skipped" in d.notes[0] and str(status) in d.notes[0]
    assert any("assert 3 == 4" in f.text for f in d.focus)


def test_a_failed_pull_request_lookup_is_a_note() -> None:
    report = diagnose_failed_job(job(), forge=forge_with(pulls=GitHubError("HTTP 502", status=502)))
    assert report.pulls == [] and "pull request lookup skipped" in report.diagnosis.notes[0]


def test_pull_requests_named_by_the_event_are_not_asked_again() -> None:
    forge = forge_with()
    diagnose_failed_job(job(pull_requests=(PullRef(3, "main"),)), forge=forge)
    assert ("pulls", 7) not in forge.calls


def test_the_log_is_required() -> None:
    with pytest.raises(GitHubError):
        diagnose_failed_job(job(), forge=forge_with(logs=GitHubError("HTTP 410", status=410)))


class BrokenKnowledge:
    recorded: list[Diagnosis]

    def __init__(self) -> None:
        self.recorded = []

    def similar(self, diagnosis: Diagnosis, k: int = 3) -> list[SimilarFailure]:
        raise ConnectionError("Chroma server unreachable")

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None:
        self.recorded.append(diagnosis)


def test_a_knowledge_base_failure_is_a_note_and_recording_still_happens() -> None:
    kb = BrokenKnowledge()
    report = diagnose_failed_job(job(), forge=forge_with(), kb=kb)
    assert report.diagnosis.notes == ["knowledge base lookup skipped: Chroma server unreachable"]
    assert len(kb.recorded) == 1


class LineCatcher:
    """An explainer that keeps the lines it was given and answers nothing."""

    lines: list[str]

    def explain(
        self, diagnosis: Diagnosis, log_lines: Sequence[str], *, change: ChangeContext | None = None
    ) -> LlmExplanation | None:
        self.lines = list(log_lines)
        return None


@pytest.mark.parametrize("odd", ["\f", "\v", "\u2028", "\u2029", "\x85", "\x1c"])
def test_prompt_lines_are_numbered_as_the_excerpt(odd: str) -> None:
    # str.splitlines() also breaks at these; the contract's lines break only at \r\n, \r and \n.
    log = f"setup {odd} done\r\nstep two\rstep three\n".encode() + PYTEST_FAIL
    catcher = LineCatcher()
    d = diagnose_failed_job(job(), forge=forge_with(logs=log), explainer=catcher).diagnosis
    assert catcher.lines[0].startswith("setup") and catcher.lines[1] == "step two"
    for item in d.excerpt:
        assert catcher.lines[item.line - 1] == item.text
    assert len(catcher.lines) == 3 + PYTEST_FAIL.count(b"\n")


OTHER_FAIL = b"src/app.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n"


@pytest.mark.parametrize(
    ("base_log", "green", "verdict"),
    [
        (PYTEST_FAIL, True, "broken-trunk"),  # red with the same failure
        (OTHER_FAIL, True, "new"),  # red with another failure: judged against the newest green
        (OTHER_FAIL, False, "unsure"),  # never green in the runs looked at
    ],
)
def test_the_base_branch_history_from_the_forge(base_log: bytes, green: bool, verdict: str) -> None:
    fetched: list[int] = []

    def fetch() -> bytes:
        fetched.append(1)
        return base_log

    failure = BaseFailure("https://github.com/octo/app/actions/runs/8/job/2", fetch)
    base = BaseBranch(
        Baseline(GREEN, "https://github.com/octo/app/actions/runs/5/job/1") if green else None, failure
    )
    d = diagnose_failed_job(job(), forge=forge_with(bases=base)).diagnosis
    assert d.verdict is not None and d.verdict.kind == verdict and fetched == [1]
    if verdict == "broken-trunk":
        assert d.verdict.link == failure.url
    if verdict == "unsure":
        assert "No successful run of this job on `main`" in d.verdict.reason
