"""Who our GitHub writes appear as: the login the sticky comment is found under.

The comment is found by its hidden marker *and* its author (another user quoting the marker must not make us
edit their comment), so the author must be the identity that will write it, whatever the token:
- an App (JWT configured): `GET /app` gives the slug, and the App writes as `<slug>[bot]`
  (docs.github.com/en/rest/apps/apps#get-the-authenticated-app);
- a user token (classic or fine-grained PAT, OAuth): `GET /user`
  (docs.github.com/en/rest/users/users#get-the-authenticated-user);
- an installation token (actions/create-github-app-token, or the runner's own `GITHUB_TOKEN`): `GET /user`
  answers 403 "Resource not accessible by integration"; GraphQL's `viewer { login }` answers for it
  (docs.github.com/en/graphql/reference/queries#viewer), and the runner's own token writes as
  `github-actions[bot]`, the last resort when nothing else answered.
"""

from __future__ import annotations

import logging
from typing import Any

from actions.github_api import Client, GitHubApi, GitHubError

log = logging.getLogger("cimedic.identity")

RUNNER_LOGIN = "github-actions[bot]"
VIEWER_QUERY = "query { viewer { login } }"


def resolve_login(gh: Client, *, app: GitHubApi | None = None, runner_token: bool = False) -> str | None:
    """The login writes through `gh` appear under, or None when no lookup could tell.

    `app`: App credentials, when configured (the token in `gh` is then one of its installation tokens).
    `runner_token`: the token is the workflow run's own `GITHUB_TOKEN`.
    """
    if app is not None and app.is_app:
        return app.app_login()
    try:
        return str(gh.get_json("GET", "/user", route="/user")["login"])
    except GitHubError as exc:
        if exc.status not in (401, 403):
            raise
    viewer = _viewer_login(gh)
    if viewer:
        return viewer
    if runner_token:
        return RUNNER_LOGIN
    log.warning("could not tell which login this token writes as")
    return None


def _viewer_login(gh: Client) -> str | None:
    try:
        data: Any = gh.get_json("POST", "/graphql", route="graphql", json={"query": VIEWER_QUERY})
    except GitHubError as exc:
        log.info("GraphQL viewer lookup failed: %s", exc)
        return None
    try:
        value = data["data"]["viewer"]["login"]
    except (KeyError, TypeError):
        return None
    return str(value) if value else None
