"""Where a suggested patch may go and how big it may be.

CI definitions run with the repository's secrets, so a patch to them is a privilege escalation, not a fix
(GitHub, "Security hardening for GitHub Actions",
https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions).
Lockfiles are generated: a hand-made diff to one is wrong unless the failure is about the lockfile itself.
The repository policy (`actions.patch_policy`) adds its own `protected` globs and may lower the caps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_PROTECTED: tuple[str, ...] = (
    ".github/workflows/**",
    ".github/actions/**",
    ".github/cimedic.yml",
    ".github/CODEOWNERS",
    ".github/dependabot.yml",
    ".gitlab-ci.yml",
    ".gitlab/**",
    "CODEOWNERS",
    "Jenkinsfile",
    ".travis.yml",
    ".circleci/**",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    ".buildkite/**",
    ".git/**",
)
LOCKFILES: tuple[str, ...] = (
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "pdm.lock",
    "go.sum",
    "Gemfile.lock",
    "composer.lock",
    "packages.lock.json",
    "gradle.lockfile",
)
MAX_BYTES = 20_000
MAX_CHANGED_LINES = 200
MAX_FILES = 10


@dataclass(frozen=True)
class PatchPolicy:
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    lockfiles: tuple[str, ...] = LOCKFILES
    max_bytes: int = MAX_BYTES
    max_changed_lines: int = MAX_CHANGED_LINES
    max_files: int = MAX_FILES

    def with_repo(
        self, protected: Sequence[str], max_bytes: int | None, max_lines: int | None
    ) -> PatchPolicy:
        """This policy plus a repository's globs; a repository may lower the caps, never raise them."""
        return PatchPolicy(
            protected=self.protected + tuple(protected),
            lockfiles=self.lockfiles,
            max_bytes=min(self.max_bytes, max_bytes or self.max_bytes),
            max_changed_lines=min(self.max_changed_lines, max_lines or self.max_changed_lines),
            max_files=self.max_files,
        )


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-like globs: `**` spans directories, `*` and `?` do not; a pattern without `/` matches
    the file name at any depth (https://git-scm.com/docs/gitignore#_pattern_format)."""
    out = []
    k = 0
    while k < len(pattern):
        if pattern.startswith("**/", k):
            out.append("(?:.*/)?")
            k += 3
        elif pattern.startswith("**", k):
            out.append(".*")
            k += 2
        elif pattern[k] == "*":
            out.append("[^/]*")
            k += 1
        elif pattern[k] == "?":
            out.append("[^/]")
            k += 1
        else:
            out.append(re.escape(pattern[k]))
            k += 1
    body = "".join(out)
    prefix = "" if "/" in pattern.rstrip("/") else "(?:.*/)?"
    # Case-insensitive: macOS and Windows file systems are, so `.GitHub/Workflows/x` is the same file.
    return re.compile(f"^{prefix}{body}$", re.IGNORECASE)


def matches(path: str, patterns: Sequence[str]) -> bool:
    return any(_glob_regex(p.lstrip("/")).match(path) for p in patterns)
