"""Draft fix requests, forge-neutral: the guards and the texts shared by GitHub's fix pull requests
(actions/fix_pr.py) and GitLab's fix merge requests (actions/fix_mr.py).

A validated fix becomes one commit on `cimedic/fix-<fingerprint>`, made through the forge's API on top of the
commit the fix was checked against, and a draft request onto the branch it fixes. Opt-in (policy
`fixes: {pull_request: true}`, or a `/cimedic fix` comment by someone allowed to push).

Guards, each checked before any write (`ensure_fix_request`):
- never merges, never force-pushes, never moves an existing branch: a fix branch is created once;
- a fix branch whose head is not a commit we made (a person pushed to it) gets no write from us again;
- at most one open fix request per fingerprint (one branch per fingerprint; an open request from it is reused)
  and at most `MAX_ATTEMPTS` fix branches per pull/merge request;
- no fix request for a fix request (its own branch) nor for a fork's request (we cannot push there);
- the request must still be at the commit the fix was checked against; otherwise a newer run decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agent.models import Fix
from agent.render import fix_details, inline_md

BRANCH_PREFIX = "cimedic/fix-"
MAX_ATTEMPTS = 3

Outcome = Literal[
    "created",
    "exists",
    "human-pushed",
    "declined",
    "fork",
    "fix-branch",
    "stale",
    "attempts",
    "dry-run",
    "failed",
]


def branch_name(fingerprint: str) -> str:
    """`cimedic/fix-<fingerprint>`, kept to what a ref name allows (git-check-ref-format)."""
    return BRANCH_PREFIX + (re.sub(r"[^A-Za-z0-9._-]+", "-", fingerprint).strip("-.")[:60] or "unknown")


@dataclass
class FixBranch:
    """What we know of a fix branch: the commits we made on it, its request. Kept by the caller (our
    store)."""

    commits: list[str] = field(default_factory=list)
    number: int | None = None
    url: str | None = None
    stopped: bool = False  # a person pushed to it: no more writes from us

    def to_state(self) -> dict[str, Any]:
        return {"commits": self.commits, "number": self.number, "url": self.url, "stopped": self.stopped}

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> FixBranch:
        state = state or {}
        return cls(
            list(state.get("commits") or []),
            state.get("number"),
            state.get("url"),
            bool(state.get("stopped")),
        )


@dataclass(frozen=True)
class FixResult:
    outcome: Outcome
    branch: FixBranch
    reason: str = ""


@dataclass(frozen=True)
class Request:
    """The pull/merge request a fix is for, as each forge describes it."""

    head_ref: str
    head_sha: str
    fork: bool


class FixForge(Protocol):
    """The few writes and reads a fix request needs from one repository of one forge."""

    noun: str  # "PR" or "MR", in the texts we write

    def branch_tip(self, branch: str) -> str | None:
        """The commit the branch points at, or None when there is no such branch."""

    def made_by_us(self, sha: str, base_sha: str, message: str) -> bool:
        """Whether `sha` is the commit we would have made: `message` on the only parent `base_sha`. Asked only
        when the branch exists and we recorded no commit on it (our write's answer was lost)."""

    def open_request(self, branch: str) -> tuple[int, str | None] | None:
        """The open request from `branch` (number, URL), if any."""

    def push(
        self, branch: str, base_sha: str, results: Mapping[str, str | None], message: str, made: list[str]
    ) -> None:
        """Create `branch` holding one new commit on `base_sha` with `results`. The commit's SHA goes into
        `made` as soon as it exists, before anything else can fail: a retry must not take it for a
        person's."""

    def propose(self, branch: str, onto: str, title: str, body: str) -> tuple[int, str | None]:
        """Open the draft request from `branch` onto `onto`; returns (number, URL)."""


def commit_message(fix: Fix, base_sha: str) -> str:
    return f"{fix.title}\n\nSuggested by CI Medic, checked to apply to {base_sha}."


def request_body(fix: Fix, onto: str | None, ref: str) -> str:
    """The draft request's description: what it fixes, the fix, and that a person decides."""
    return "\n".join(
        [
            f"CI Medic's fix for the failure in {ref}."
            if onto is None
            else f"CI Medic's fix for `{inline_md(onto, 100)}`.",
            "",
            *fix_details(fix),
            "",
            "A draft: review it, then mark it ready and merge it yourself. CI Medic never merges, "
            "and stops writing to this branch once anyone else pushes to it.",
        ]
    )


def nothing_to_fix(asked_by: str, head_sha: str) -> str:
    """The one reply to a `/cimedic fix` that finds no checked fix for the head commit."""
    return (
        f"@{asked_by} CI Medic has no checked fix for the failures at `{head_sha[:7]}`, so no draft fix "
        "was proposed. A fix is proposed only when a tool's fix-it (or the model's patch) applies to this "
        "commit; CI Medic's summary says what failed and what to do."
    )


def ensure_fix_request(
    forge: FixForge,
    request: Request,
    checked_sha: str,
    fix: Fix,
    results: Mapping[str, str | None],
    fingerprint: str,
    *,
    known: FixBranch,
    attempts: int,
    ref: str,
    title: str,
    onto: tuple[str, str] | None = None,
    dry_run: bool = False,
) -> FixResult:
    """Open (or find) the draft fix request for `fix` on `request`.

    `results`: the fixed files' new text (None: deleted), from validating `fix` at `checked_sha`.
    `onto`: (branch, head SHA) to fix instead of the request's branch (a broken trunk: its default branch; the
    fix was then checked at that SHA). `attempts`: fix branches already made for this request. `ref`: how the
    request is named in our texts (`#12`, `!4`); `title`: the new request's title.
    """
    base_branch, base_sha = onto or (request.head_ref, request.head_sha)
    branch = branch_name(fingerprint)
    noun = forge.noun
    if request.head_ref.startswith(BRANCH_PREFIX):
        return FixResult("fix-branch", known, f"a fix {noun}'s own failure: not fixed by another fix {noun}")
    if onto is None and request.fork:
        return FixResult("fork", known, f"the {noun}'s branch is in a fork we cannot push to")
    if base_sha != checked_sha:
        return FixResult("stale", known, f"{base_branch} moved on since the fix was checked")
    if known.stopped:
        return FixResult("human-pushed", known, "someone pushed to the fix branch; we no longer write to it")
    message = commit_message(fix, base_sha)
    tip = forge.branch_tip(branch)
    if tip is not None:
        if tip not in known.commits:
            if known.commits or not forge.made_by_us(tip, base_sha, message):
                known.stopped = True
                return FixResult("human-pushed", known, f"{branch} holds a commit we did not make")
            known.commits.append(tip)  # ours: the answer to our push was lost, the push was not
        found = forge.open_request(branch)
        if found is not None:
            known.number, known.url = found
            return FixResult("exists", known)
        if known.number is not None:
            return FixResult(
                "declined", known, f"the fix {noun} from {branch} was closed; not proposed again"
            )
        if dry_run:
            return FixResult("dry-run", known)
        # Our branch without a request: an earlier attempt stopped after pushing; open the request now.
    elif attempts >= MAX_ATTEMPTS:
        return FixResult(
            "attempts", known, f"{MAX_ATTEMPTS} fix {noun}s were already proposed for this {noun}"
        )
    elif dry_run:
        return FixResult("dry-run", known)
    else:
        forge.push(branch, base_sha, results, message, known.commits)
    body = request_body(fix, onto[0] if onto else None, ref)
    known.number, known.url = forge.propose(branch, base_branch, title, body)
    return FixResult("created", known)
