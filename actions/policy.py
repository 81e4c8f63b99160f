"""Per-repository policy from `.github/cimedic.yml` on the default branch, never from the PR under test.

Reading config only from the default branch (as Probot's `context.config` does) means a pull request cannot
turn off its own checks or switch CI Medic into writing where the maintainers did not want it to.

    # .github/cimedic.yml
    dry_run: false            # render and audit everything, write nothing
    outputs:
      comment: true           # the sticky PR comment
      check_run: true         # the "CI Medic" check run with annotations
    rerun: [flaky]            # re-run jobs judged flaky and/or infrastructure (once per run attempt)
    ignore:
      jobs: ["docs*"]         # fnmatch patterns on job names
      paths: ["vendor/**"]    # no annotations on these paths
"""

from __future__ import annotations

import fnmatch
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

POLICY_PATH = ".github/cimedic.yml"
GITLAB_POLICY_PATH = ".gitlab/cimedic.yml"
"""GitLab projects keep the same file under `.gitlab/`; there `outputs.check_run` is the `cimedic` commit
status (actions/gitlab_status.py)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Outputs(_Strict):
    comment: bool = True
    check_run: bool = True


class Ignore(_Strict):
    jobs: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)


class Policy(_Strict):
    dry_run: bool = False
    outputs: Outputs = Field(default_factory=Outputs)
    rerun: list[Literal["flaky", "infrastructure"]] = Field(default_factory=list)
    ignore: Ignore = Field(default_factory=Ignore)
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
