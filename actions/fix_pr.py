"""Draft fix pull requests on GitHub: the forge-neutral guards of `actions.fix_request` over GitHub's API.

The commit goes through the Git data API (docs.github.com/en/rest/git): the base commit's tree
(GET /git/commits/{sha}, GET /git/trees/{tree}?recursive=1 for the files' modes), a new tree on top of it with
the fixed files' contents (POST /git/trees, `base_tree`, entries with `content`; `sha: null` deletes), a
commit with the base as its only parent (POST /git/commits), the branch (POST /git/refs). Then "Create a pull
request" (POST /pulls, `draft: true`, docs.github.com/en/rest/pulls/pulls).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.fix_request import FixBranch, FixResult, Request, ensure_fix_request
from actions.github_api import Client, GitHubError
from agent.models import Fix


def _get(client: Client, url: str, route: str, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return dict(client.get_json("GET", url, route=route, **kwargs))
    except GitHubError as exc:
        if exc.status == 404:
            return None
        raise


class GitHubFixForge:
    """One repository's git data and pulls, as `actions.fix_request.FixForge`."""

    noun = "PR"

    def __init__(self, client: Client, repo: str) -> None:
        self.client = client
        self.repo = repo

    def branch_tip(self, branch: str) -> str | None:
        ref = _get(self.client, f"/repos/{self.repo}/git/ref/heads/{branch}", "git/ref/{ref}")
        return None if ref is None else str((ref.get("object") or {}).get("sha"))

    def made_by_us(self, sha: str, base_sha: str, message: str) -> bool:
        commit = _get(self.client, f"/repos/{self.repo}/git/commits/{sha}", "git/commits/{sha}") or {}
        parents = [p.get("sha") for p in commit.get("parents") or []]
        return parents == [base_sha] and commit.get("message") == message

    def open_request(self, branch: str) -> tuple[int, str | None] | None:
        owner = self.repo.split("/")[0]
        found = self.client.get_json(
            "GET",
            f"/repos/{self.repo}/pulls",
            route="pulls",
            params={"head": f"{owner}:{branch}", "state": "open"},
        )
        return (int(found[0]["number"]), found[0].get("html_url")) if found else None

    def _modes(self, tree_sha: str, paths: list[str]) -> dict[str, str]:
        """The files' modes in the base tree (an executable stays executable)."""
        tree = _get(
            self.client,
            f"/repos/{self.repo}/git/trees/{tree_sha}",
            "git/trees/{sha}",
            params={"recursive": "1"},
        )
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

    def push(
        self, branch: str, base_sha: str, results: Mapping[str, str | None], message: str, made: list[str]
    ) -> None:
        """One commit on top of `base_sha` with the fixed files, and the new branch pointing at it."""
        repo, client = self.repo, self.client
        commit = client.get_json("GET", f"/repos/{repo}/git/commits/{base_sha}", route="git/commits/{sha}")
        tree_sha = str(commit["tree"]["sha"])
        modes = self._modes(tree_sha, [p for p, t in results.items() if t is not None])
        entries: list[dict[str, Any]] = [
            {"path": p, "mode": modes[p], "type": "blob", "content": t}
            if t is not None
            else {"path": p, "mode": "100644", "type": "blob", "sha": None}
            for p, t in results.items()
        ]
        tree = client.get_json(
            "POST",
            f"/repos/{repo}/git/trees",
            route="git/trees",
            json={"base_tree": tree_sha, "tree": entries},
        )
        created = client.get_json(
            "POST",
            f"/repos/{repo}/git/commits",
            route="git/commits",
            json={"message": message, "tree": tree["sha"], "parents": [base_sha]},
        )
        made.append(str(created["sha"]))
        client.get_json(
            "POST",
            f"/repos/{repo}/git/refs",
            route="git/refs",
            json={"ref": f"refs/heads/{branch}", "sha": created["sha"]},
        )

    def propose(self, branch: str, onto: str, title: str, body: str) -> tuple[int, str | None]:
        created = self.client.get_json(
            "POST",
            f"/repos/{self.repo}/pulls",
            route="pulls",
            json={"title": title, "head": branch, "base": onto, "body": body, "draft": True},
        )
        return int(created["number"]), created.get("html_url")


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
) -> FixResult:
    """Open (or find) the draft fix PR for `fix` on pull request `pull` (GitHub's "Get a pull request")."""
    head = pull.get("head") or {}
    request = Request(
        head_ref=str(head.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        fork=(head.get("repo") or {}).get("full_name") != repo,
    )
    return ensure_fix_request(
        GitHubFixForge(client, repo),
        request,
        checked_sha,
        fix,
        results,
        fingerprint,
        known=known,
        attempts=attempts,
        ref=f"#{pull.get('number')}",
        title=f"CI Medic: {fix.title}"[:250],
        onto=onto,
        dry_run=dry_run,
    )
