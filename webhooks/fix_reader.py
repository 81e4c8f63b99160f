"""The files at a failed job's commit, read through the forge's API: the `Reader` a suggested fix is checked
against in the service (docs/fixes.md), as the CLI reads its checkout.

Only the files a patch names are asked for (`agent.fixes.validate` calls the reader lazily, after the path
checks, so a protected path is never even read). Each reader serves one job: answers (a missing file too)
are kept, and the number of distinct paths looked up is capped, because a runner's absolute path in a log
(`/home/runner/work/app/app/src/a.c`) is resolved by trying its tails, each one a request. A file over the
size cap is refused with `Unreadable`, which drops the patch with that reason instead of saying the file is
missing.

- GitHub: "Get repository content", GET /repos/{owner}/{repo}/contents/{path}?ref={sha} with the raw media
  type `application/vnd.github.raw+json` (docs.github.com/en/rest/repos/contents; raw works up to 100 MB;
  a directory still answers its JSON listing; 404 when there is no such path at that ref). The head SHA of a
  fork's pull request is readable in the base repository (GitHub keeps it under refs/pull/N/head).
- GitLab: `webhooks.gitlab_files.GitLabFiles` (python-gitlab is the `gitlab` extra; this module is on the
  light install's path: `cimedic action`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from actions.github_api import Client, GitHubError
from agent.fixes import Unreadable

log = logging.getLogger("cimedic.fix_reader")

MAX_FILE_BYTES = 1_000_000
"""A source file a fix-it names is small; a bigger one is refused, not downloaded into memory for a diff."""
MAX_LOOKUPS = 16
"""Distinct paths looked up per job: enough for a few fix-its whose runner paths take several tries."""


class CachedReader:
    """Per-job cache and lookup budget around one forge call `fetch(path) -> bytes | None`."""

    def __init__(self, fetch: Callable[[str], bytes | None], *, max_bytes: int, max_lookups: int) -> None:
        self.fetch = fetch
        self.max_bytes = max_bytes
        self.max_lookups = max_lookups
        self.known: dict[str, bytes | None] = {}

    def __call__(self, path: str) -> bytes | None:
        if path in self.known:
            return self.known[path]
        if len(self.known) >= self.max_lookups:
            raise Unreadable(f"{path}: not read (more than {self.max_lookups} files looked up for this job)")
        data = self.fetch(path)
        if data is not None and len(data) > self.max_bytes:
            raise Unreadable(f"{path} is larger than {self.max_bytes} bytes")
        self.known[path] = data
        return data

    @property
    def lookups(self) -> int:
        return len(self.known)


class GitHubFiles(CachedReader):
    """Files of `repo` at `ref` (a commit SHA) through one installation's client."""

    def __init__(
        self,
        gh: Client,
        repo: str,
        ref: str,
        *,
        max_bytes: int = MAX_FILE_BYTES,
        max_lookups: int = MAX_LOOKUPS,
    ) -> None:
        self.gh = gh
        self.repo = repo
        self.ref = ref
        super().__init__(self._get, max_bytes=max_bytes, max_lookups=max_lookups)

    def _get(self, path: str) -> bytes | None:
        try:
            resp = self.gh.request(
                "GET",
                f"/repos/{self.repo}/contents/{quote(path)}",
                route="contents",
                params={"ref": self.ref},
                headers={"Accept": "application/vnd.github.raw+json"},
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if resp.headers.get("content-type", "").startswith("application/json") and resp.content[:1] == b"[":
            return None  # a directory's listing: not a file a patch can change
        return resp.content
