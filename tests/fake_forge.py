"""An in-memory `Forge` for tests of the use case (the role httpx's `MockTransport` plays for httpx).

Each answer is set per job; an exception set instead of an answer is raised, so tests can make any optional
step fail the way a real forge does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.jobs import BaseBranch, JobRef, PullRef


@dataclass
class FakeForge:
    logs: dict[int, bytes | BaseException] = field(default_factory=dict)
    pulls: dict[int, list[PullRef] | BaseException] = field(default_factory=dict)
    bases: dict[int, BaseBranch | BaseException] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)

    @staticmethod
    def _answer(value: object) -> object:
        if isinstance(value, BaseException):
            raise value
        return value

    def job_log(self, job: JobRef) -> bytes:
        self.calls.append(("log", job.job_id))
        return self._answer(self.logs[job.job_id])  # type: ignore[return-value]

    def pull_requests(self, job: JobRef) -> list[PullRef]:
        self.calls.append(("pulls", job.job_id))
        return self._answer(self.pulls.get(job.job_id, []))  # type: ignore[return-value]

    def base_branch(self, job: JobRef, base_ref: str) -> BaseBranch:
        self.calls.append(("base", job.job_id))
        return self._answer(self.bases.get(job.job_id, BaseBranch()))  # type: ignore[return-value]
