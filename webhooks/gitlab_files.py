"""The files at a failed GitLab job's commit, read through the API: the GitLab `Reader` of a suggested fix
(webhooks/fix_reader.py says why it is cached and capped).

"Get raw file from repository", GET /projects/:id/repository/files/:file_path/raw?ref=sha
(docs.gitlab.com/api/repository_files; 404 when the file or ref does not exist), through python-gitlab,
streamed so an oversized file is not held whole; and the project's policy file, read the same way.
Apart from fix_reader.py because python-gitlab is the `gitlab` extra, which the light install (`cimedic
action`) does not have; apart from gitlab_handlers.py because `cimedic gitlab-ci` runs with that extra alone
(no SQL store, no service: docs/gitlab.md).
"""

from __future__ import annotations

import gitlab

from actions.policy import GITLAB_POLICY_PATH, Policy, parse_policy
from webhooks.fix_reader import MAX_FILE_BYTES, MAX_LOOKUPS, CachedReader


class GitLabFiles(CachedReader):
    """Files of project `project_id` at `ref` (a commit SHA) through python-gitlab."""

    def __init__(
        self,
        gl: gitlab.Gitlab,
        project_id: int,
        ref: str,
        *,
        max_bytes: int = MAX_FILE_BYTES,
        max_lookups: int = MAX_LOOKUPS,
    ) -> None:
        self.project = gl.projects.get(project_id, lazy=True)
        self.ref = ref
        super().__init__(self._get, max_bytes=max_bytes, max_lookups=max_lookups)

    def _get(self, path: str) -> bytes | None:
        try:
            chunks = self.project.files.raw(
                file_path=path, ref=self.ref, streamed=True, iterator=True, chunk_size=64 * 1024
            )
            data = bytearray()
            for chunk in chunks:
                data += chunk
                if len(data) > self.max_bytes:
                    break  # the caller refuses it; no need to read the rest
            return bytes(data)
        except gitlab.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise


def read_policy(gl: gitlab.Gitlab, project_id: int, default_branch: str | None) -> Policy:
    """`.gitlab/cimedic.yml` from the default branch only: an MR cannot change how it is judged."""
    project = gl.projects.get(project_id, lazy=True)
    try:
        raw = project.files.raw(file_path=GITLAB_POLICY_PATH, ref=default_branch or "HEAD")
    except gitlab.GitlabGetError as exc:
        if exc.response_code == 404:
            return Policy()
        raise
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None
    return parse_policy(text, path=GITLAB_POLICY_PATH)
