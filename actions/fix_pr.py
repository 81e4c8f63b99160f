"""Draft fix pull requests: a validated fix committed through the API on `cimedic/fix-<fingerprint>` and
proposed, as a draft, onto the branch it fixes. Opt-in (policy `fixes: {pull_request: true}`, or a
`/cimedic fix` comment by someone with write access).

The commit goes through the Git data API (docs.github.com/en/rest/git): the base commit's tree
(GET /git/commits/{sha}, GET /git/trees/{tree}?recursive=1 for the files' modes), a new tree on top of it with
the fixed files' contents (POST /git/trees, `base_tree`, entries with `content`; `sha: null` deletes), a
commit with the base as its only parent (POST /git/commits), the branch (POST /git/refs). Then "Create a pull
request" (POST /pulls, `draft: true`, docs.github.com/en/rest/pulls/pulls).

Guards, each checked before any write:
- never merges, never force-pushes, never moves an existing branch: a fix branch is created once;
- a fix branch whose head is not a commit we made (a person pushed to it) gets no write from us again;
- at most one open fix PR per fingerprint (one branch per fingerprint; an open PR from it is reused) and
  at most `MAX_ATTEMPTS` fix branches per pull request;
- no fix PR for a fix PR (its own branch) nor for a fork's pull request (the App cannot push there);
- the PR must still be at the commit the fix was checked against; otherwise a newer run decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from actions.github_api import Client, GitHubError
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
    """What we know of a fix branch: the commits we made on it, its PR. Kept by the caller (our store)."""

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
class FixPrResult:
    outcome: Outcome
    branch: FixBranch
    reason: str = ""


def _get(client: Client, url: str, route: str, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return dict(client.get_json("GET", url, route=route, **kwargs))
    except GitHubError as exc:
        if exc.status == 404:
            return None
        raise


def _open_pull(client: Client, repo: str, branch: str, state: str) -> dict[str, Any] | None:
    owner = repo.split("/")[0]
    found = client.get_json(
        "GET", f"/repos/{repo}/pulls", route="pulls", params={"head": f"{owner}:{branch}", "state": state}
    )
    return dict(found[0]) if found else None


def _modes(client: Client, repo: str, tree_sha: str, paths: list[str]) -> dict[str, str]:
    """The files' modes in the base tree (an executable stays executable)."""
    tree = _get(client, f"/repos/{repo}/git/trees/{tree_sha}", "git/trees/{sha}", params={"recursive": "1"})
    entries = {
        e.get("path"): e.get("mode") for e in (tree or {}).get("tree") or [] if e.get("type") == "blob"
    }
    out = {}
    for path in paths:
        mode = entries.get(path)
        if mode is None and (tree or {}).get("truncated"):
            raise GitHubError(
                f"{path}: not in the truncated tree listing; its mode is unknown", transient=False
            )
        if mode not in (None, "100644", "100755"):
            # A symlink or submodule: the contents API answered with what it points to, not the entry.
            raise GitHubError(f"{path} is not a regular file (mode {mode})", transient=False)
        out[path] = str(mode or "100644")
    return out


def ensure_fix_pr(
    client: Client,
    repo: str,
    pull: Mapping[str, Any],
    checked_sha: str,
    fix: Fix,
    results: Mapping[str, str | None],
    fingerprint: str,
    *,
    known: FixBranch,
    attempts: int,
    onto: tuple[str, str] | None = None,
    dry_run: bool = False,
) -> FixPrResult:
    """Open (or find) the draft fix PR for `fix` on pull request `pull`.

    `results`: the fixed files' new text (None: deleted), from validating `fix` at `checked_sha`.
    `onto`: (branch, head SHA) to fix instead of the PR's branch (a broken trunk: its default branch; the
    fix was then checked at that SHA). `attempts`: fix branches already made for this PR.
    """
    head = pull.get("head") or {}
    base_branch, base_sha = onto or (str(head.get("ref") or ""), str(head.get("sha") or ""))
    branch = branch_name(fingerprint)
    if str(head.get("ref") or "").startswith(BRANCH_PREFIX):
        return FixPrResult("fix-branch", known, "a fix PR's own failure: not fixed by another fix PR")
    if onto is None and (head.get("repo") or {}).get("full_name") != repo:
        return FixPrResult("fork", known, "the pull request's branch is in a fork we cannot push to")
    if base_sha != checked_sha:
        return FixPrResult("stale", known, f"{base_branch} moved on since the fix was checked")
    if known.stopped:
        return FixPrResult(
            "human-pushed", known, "someone pushed to the fix branch; we no longer write to it"
        )
    ref = _get(client, f"/repos/{repo}/git/ref/heads/{branch}", "git/ref/{ref}")
    if ref is not None:
        tip = str((ref.get("object") or {}).get("sha"))
        if tip not in known.commits:
            known.stopped = True
            return FixPrResult("human-pushed", known, f"{branch} holds a commit we did not make")
        open_pr = _open_pull(client, repo, branch, "open")
        if open_pr is not None:
            known.number, known.url = int(open_pr["number"]), open_pr.get("html_url")
            return FixPrResult("exists", known)
        if known.number is not None:
            return FixPrResult("declined", known, f"the fix PR from {branch} was closed; not proposed again")
        if dry_run:
            return FixPrResult("dry-run", known)
        # Our branch without a PR: an earlier attempt stopped after pushing; open the PR now.
    elif attempts >= MAX_ATTEMPTS:
        return FixPrResult("attempts", known, f"{MAX_ATTEMPTS} fix PRs were already proposed for this PR")
    elif dry_run:
        return FixPrResult("dry-run", known)
    else:
        _push_branch(client, repo, branch, base_sha, fix, results, known)
    number = pull.get("number")
    body = "\n".join(
        [
            f"CI Medic's fix for the failure in #{number}."
            if onto is None
            else f"CI Medic's fix for `{inline_md(base_branch, 100)}`.",
            "",
            *fix_details(fix),
            "",
            "A draft: review it, then mark it ready and merge it yourself. CI Medic never merges, "
            "and stops writing to this branch once anyone else pushes to it.",
        ]
    )
    created = client.get_json(
        "POST",
        f"/repos/{repo}/pulls",
        route="pulls",
        json={
            "title": f"CI Medic: {fix.title}"[:250],
            "head": branch,
            "base": base_branch,
            "body": body,
            "draft": True,
        },
    )
    known.number, known.url = int(created["number"]), created.get("html_url")
    return FixPrResult("created", known)


def _push_branch(
    client: Client,
    repo: str,
    branch: str,
    base_sha: str,
    fix: Fix,
    results: Mapping[str, str | None],
    known: FixBranch,
) -> None:
    """One commit on top of `base_sha` with the fixed files, and the new branch pointing at it."""
    commit = client.get_json("GET", f"/repos/{repo}/git/commits/{base_sha}", route="git/commits/{sha}")
    tree_sha = str(commit["tree"]["sha"])
    modes = _modes(client, repo, tree_sha, [p for p, t in results.items() if t is not None])
    entries: list[dict[str, Any]] = [
        {"path": p, "mode": modes[p], "type": "blob", "content": t}
        if t is not None
        else {"path": p, "mode": "100644", "type": "blob", "sha": None}
        for p, t in results.items()
    ]
    tree = client.get_json(
        "POST", f"/repos/{repo}/git/trees", route="git/trees", json={"base_tree": tree_sha, "tree": entries}
    )
    message = f"{fix.title}\n\nSuggested by CI Medic, checked to apply to {base_sha}."
    made = client.get_json(
        "POST",
        f"/repos/{repo}/git/commits",
        route="git/commits",
        json={"message": message, "tree": tree["sha"], "parents": [base_sha]},
    )
    known.commits.append(str(made["sha"]))
    client.get_json(
        "POST",
        f"/repos/{repo}/git/refs",
        route="git/refs",
        json={"ref": f"refs/heads/{branch}", "sha": made["sha"]},
    )
