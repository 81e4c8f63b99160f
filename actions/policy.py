"""Per-repository policy from `.github/cimedic.yml` on the default branch, never from the PR under test.

Reading config only from the default branch (as Probot's `context.config` does) means a pull request cannot
turn off its own checks or switch CI Medic into writing where the maintainers did not want it to.

    # .github/cimedic.yml
    dry_run: false            # render and audit everything, write nothing
    outputs:
      comment: true           # the sticky PR comment
      check_run: true         # the "CI Medic" check run with annotations
      suggestions: true       # a checked fix as ```suggestion review comments on the PR's own lines
    rerun: [flaky]            # re-run jobs judged flaky and/or infrastructure (once per run attempt)
    ignore:
      jobs: ["docs*"]         # fnmatch patterns on job names
      paths: ["vendor/**"]    # no annotations on these paths
    protected: ["deploy/**"]  # suggested patches never touch these (on top of CI config and lockfiles)
    patch:
      max_bytes: 20000        # caps on a suggested patch; may only lower the built-in ones
      max_lines: 200
    fixes:
      pull_request: false     # true: a checked fix also becomes a draft fix PR (else only on `/cimedic fix`)
    tickets:                  # one ticket per failure fingerprint (docs/tickets.md)
      tracker: jira           # jira | linear; none files nothing
      verdicts: [broken-trunk]
      min_occurrences: 3      # ...or a failure seen this many times on the default branch (0: off)
      on_green: {comment: true, transition: null}   # e.g. transition: Done
      when_done: reopen       # reopen | link (a new ticket linked to the closed one)
      dismissed_silence_days: 30   # after won't fix / duplicate, a new linked ticket after this many days
    notify:                   # Slack / Teams webhooks (CIMEDIC_SLACK_WEBHOOK_URL, CIMEDIC_TEAMS_WEBHOOK_URL)
      slack: true
      teams: false
      branches: ["main", "release/*"]   # protected branches: new failure kinds there are announced
      period_hours: 24        # at most one message per fingerprint per period
"""

from __future__ import annotations

import fnmatch
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.models import VerdictKind

POLICY_PATH = ".github/cimedic.yml"
GITLAB_POLICY_PATH = ".gitlab/cimedic.yml"
"""GitLab projects keep the same file under `.gitlab/`; there `outputs.check_run` is the `cimedic` commit
status (actions/gitlab_status.py)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Outputs(_Strict):
    comment: bool = True
    check_run: bool = True
    suggestions: bool = True  # a validated fix as review suggestions on the PR's lines (docs/fixes.md)


class Ignore(_Strict):
    jobs: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)


class PatchCaps(_Strict):
    max_bytes: int | None = Field(default=None, ge=1)
    max_lines: int | None = Field(default=None, ge=1)


class Fixes(_Strict):
    pull_request: bool = False  # open a draft fix PR for a checked fix without being asked (docs/fixes.md)


class OnGreen(_Strict):
    comment: bool = True
    transition: str | None = Field(default=None, description="transition (Jira) or state (Linear) name")


def _broken_trunk() -> list[VerdictKind]:
    return ["broken-trunk"]


class Tickets(_Strict):
    tracker: Literal["jira", "linear"] | None = None
    verdicts: list[VerdictKind] = Field(default_factory=_broken_trunk)
    min_occurrences: int = Field(default=3, ge=0)
    on_green: OnGreen = Field(default_factory=OnGreen)
    when_done: Literal["reopen", "link"] = "reopen"
    # Won't fix and duplicate are a team's decision, but not forever: a failure that keeps coming back
    # after this many days gets a new ticket linked to the dismissed one.
    dismissed_silence_days: int = Field(default=30, ge=0)


class Notify(_Strict):
    slack: bool = False
    teams: bool = False
    branches: list[str] = Field(default_factory=lambda: ["main", "master"])
    period_hours: float = Field(default=24.0, gt=0)


class Policy(_Strict):
    dry_run: bool = False
    outputs: Outputs = Field(default_factory=Outputs)
    rerun: list[Literal["flaky", "infrastructure"]] = Field(default_factory=list)
    ignore: Ignore = Field(default_factory=Ignore)
    protected: list[str] = Field(default_factory=list, description="globs a suggested patch may not touch")
    patch: PatchCaps = Field(default_factory=PatchCaps)
    fixes: Fixes = Field(default_factory=Fixes)
    tickets: Tickets = Field(default_factory=Tickets)
    notify: Notify = Field(default_factory=Notify)
    error: str | None = Field(default=None, description="why the file was not used, when it was invalid")

    def ignores_job(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.ignore.jobs)

    def ignores_path(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.ignore.paths)


def parse_policy(text: str | None, *, path: str = POLICY_PATH) -> Policy:
    """The policy in `text` (YAML); the defaults when absent. An invalid file falls back to dry-run.

    Dry-run on error: a typo must not make CI Medic write where a maintainer meant to restrict it, and the
    reason is kept in `error` so the audit log and the check run summary can say what to fix.
    """
    if text is None or not text.strip():
        return Policy()
    try:
        data = yaml.safe_load(text)
        if data is None:
            return Policy()
        if not isinstance(data, dict):
            raise ValueError("top level must be a mapping")
        data.pop("error", None)
        return Policy.model_validate(data)
    except (yaml.YAMLError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Policy(dry_run=True, error=f"{path} ignored: {first}")
