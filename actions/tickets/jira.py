"""Jira Cloud and Data Center through the `jira` package (pycontribs/jira), REST API v2 with wiki markup.

- Auth: Cloud takes basic auth with the account's email and an API token; Data Center a personal access
  token as a bearer token (https://confluence.atlassian.com/enterprise/using-personal-access-tokens-1026032365.html).
- Search: the legacy `GET /rest/api/2/search` answers 410 on Cloud; `jira` 3.10 sends `search_issues` to the
  new `/rest/api/{2,3}/search/jql` when the server says `deploymentType: Cloud` (jira/client.py,
  `enhanced_search_issues`), and to `/rest/api/2/search` on Data Center, where it still exists.
- The session's own retry (ResilientSession: ConnectionError, 429, 503, with sleeps of at least twice
  `Retry-After`) is turned off (`max_retries=0`): it would repeat a create after a connection error. Reads are
  retried here with `Backoff` on 429 and 5xx; writes only on 429 and 503, which Jira answers before acting
  (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import requests
from jira import JIRA, JIRAError

from actions.backoff import Backoff, Transient
from actions.tickets.config import TrackerSettings
from actions.tickets.model import CreateInDoubt, Ticket, TicketDraft, TicketStatus, TrackerError
from actions.tickets.render import JiraWiki, label_for

_FIELDS = ["summary", "status", "resolution", "resolutiondate", "labels", "created"]
# Resolutions that mean "we decided not to fix this", not "fixed" (Jira's defaults and common additions).
_DISMISSED = {"won't fix", "won't do", "duplicate", "cannot reproduce", "declined", "incomplete"}


class JiraTracker:
    name: Literal["jira"] = "jira"

    def __init__(self, client: JIRA, project: str, issue_type: str = "Bug", backoff: Backoff | None = None):
        self.client = client
        self.project = project
        self.issue_type = issue_type
        self.markup = JiraWiki()
        self.backoff = backoff or Backoff()
        self.base = client.server_url.rstrip("/")

    # -- calls -----------------------------------------------------------------------------------------------

    def _read(self, what: str, call: Any) -> Any:
        def attempt() -> Any:
            try:
                return call()
            except JIRAError as exc:
                if exc.status_code == 429 or (exc.status_code or 0) >= 500:
                    raise Transient(f"{what}: HTTP {exc.status_code}", _retry_after(exc)) from exc
                raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise Transient(f"{what}: {type(exc).__name__}") from exc

        return self._run(what, attempt)

    def _write(self, what: str, call: Any) -> Any:
        def attempt() -> Any:
            try:
                return call()
            except JIRAError as exc:
                if exc.status_code in (429, 503):
                    raise Transient(f"{what}: HTTP {exc.status_code}", _retry_after(exc)) from exc
                raise

        return self._run(what, attempt)

    def _run(self, what: str, attempt: Any) -> Any:
        try:
            return self.backoff.run(attempt)
        except Transient as exc:
            raise TrackerError(f"jira {exc} (gave up after {self.backoff.attempts} tries)") from exc
        except JIRAError as exc:
            raise TrackerError(f"jira {what}: HTTP {exc.status_code} {exc.text or ''}".strip()) from exc
        except requests.RequestException as exc:
            raise TrackerError(f"jira {what}: {type(exc).__name__}: {exc}") from exc

    # -- the Tracker protocol --------------------------------------------------------------------------------

    def find(self, draft: TicketDraft) -> Ticket | None:
        project, label = _jql_string(self.project), _jql_string(label_for(draft.fingerprint))
        jql = f"project = {project} AND labels = {label} ORDER BY created DESC"
        found = self._read(
            "search",
            lambda: self.client.search_issues(jql, maxResults=5, fields=list(_FIELDS), json_result=True),
        )
        issues = found.get("issues") or []
        tickets = [self._ticket(issue) for issue in issues]
        return next((t for t in tickets if t.status == "open"), tickets[0] if tickets else None)

    def get(self, key: str) -> Ticket | None:
        try:
            issue = self._read(f"get {key}", lambda: self.client.issue(key, fields=",".join(_FIELDS)))
        except TrackerError as exc:
            if isinstance(exc.__cause__, JIRAError) and exc.__cause__.status_code == 404:
                return None
            raise
        return self._ticket(issue.raw)

    def create(self, draft: TicketDraft) -> Ticket:
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": draft.summary,
            "description": draft.description,
            "labels": list(draft.labels),
        }

        def attempt() -> Any:
            try:
                return self.client.create_issue(fields=fields, prefetch=False)
            except JIRAError as exc:
                if exc.status_code in (429, 503):
                    raise Transient(f"create: HTTP {exc.status_code}", _retry_after(exc)) from exc
                if (exc.status_code or 0) >= 500:
                    raise CreateInDoubt(f"jira create: HTTP {exc.status_code}") from exc
                raise TrackerError(f"jira create: HTTP {exc.status_code} {exc.text or ''}".strip()) from exc
            except requests.Timeout as exc:  # the request may have reached Jira: it is not repeated
                raise CreateInDoubt(f"jira create: {type(exc).__name__}") from exc
            except requests.ConnectionError as exc:
                raise CreateInDoubt(f"jira create: {type(exc).__name__}") from exc

        try:
            issue = self.backoff.run(attempt)
        except Transient as exc:
            raise TrackerError(f"jira {exc} (gave up after {self.backoff.attempts} tries)") from exc
        return Ticket(key=issue.key, url=self._url(issue.key), id=str(issue.id))

    def comment(self, ticket: Ticket, body: str) -> None:
        self._write(f"comment on {ticket.key}", lambda: self.client.add_comment(ticket.key, body))

    def _transitions(self, ticket: Ticket) -> list[dict[str, Any]]:
        return list(self._read(f"transitions of {ticket.key}", lambda: self.client.transitions(ticket.key)))

    def _do_transition(self, ticket: Ticket, transition: dict[str, Any]) -> None:
        tid = str(transition["id"])
        self._write(f"transition {ticket.key}", lambda: self.client.transition_issue(ticket.key, tid))

    def transition(self, ticket: Ticket, name: str) -> bool:
        for item in self._transitions(ticket):
            if str(item.get("name", "")).casefold() == name.casefold():
                self._do_transition(ticket, item)
                return True
        return False

    def reopen(self, ticket: Ticket) -> bool:
        """The first transition that leads to a status outside the "done" category (Reopen, To Do...)."""
        for item in self._transitions(ticket):
            category = ((item.get("to") or {}).get("statusCategory") or {}).get("key")
            if category and category != "done":
                self._do_transition(ticket, item)
                return True
        return False

    def link(self, ticket: Ticket, earlier: Ticket) -> None:
        # "Relates" is one of Jira's default link types (GET /rest/api/2/issueLinkType).
        self._write(
            f"link {ticket.key}", lambda: self.client.create_issue_link("Relates", ticket.key, earlier.key)
        )

    # -- helpers ---------------------------------------------------------------------------------------------

    def _url(self, key: str) -> str:
        return f"{self.base}/browse/{key}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        fields = raw.get("fields") or {}
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        resolution = str((fields.get("resolution") or {}).get("name") or "").casefold().replace("’", "'")
        status: TicketStatus = "open"
        if category == "done":
            status = "dismissed" if resolution in _DISMISSED else "done"
        return Ticket(
            key=raw["key"],
            url=self._url(raw["key"]),
            status=status,
            resolved_at=_parse_time(fields.get("resolutiondate")),
            id=str(raw.get("id", "")),
        )


def _jql_string(value: str) -> str:
    # A JQL string literal: double quotes, with `"` and `\` escaped by a backslash
    # (https://support.atlassian.com/jira-software-cloud/docs/use-advanced-search-with-jira-query-language-jql/).
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _retry_after(exc: JIRAError) -> str | None:
    response = getattr(exc, "response", None)
    return response.headers.get("Retry-After") if response is not None else None


def _parse_time(value: Any) -> datetime | None:
    # Jira's times look like 2026-12-05T10:00:00.000+0000
    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def make_jira(settings: TrackerSettings, *, backoff: Backoff | None = None) -> JiraTracker:
    if not settings.jira_url or not settings.jira_project or settings.jira_token is None:
        raise TrackerError("Jira needs CIMEDIC_JIRA_URL, CIMEDIC_JIRA_PROJECT and CIMEDIC_JIRA_TOKEN")
    token = settings.jira_token.get_secret_value()
    auth: dict[str, Any] = (
        {"basic_auth": (settings.jira_email, token)} if settings.jira_email else {"token_auth": token}
    )
    try:
        client = JIRA(
            server=settings.jira_url,
            options={"check_update": False},
            max_retries=0,
            timeout=settings.tracker_timeout_seconds,
            **auth,
        )
    except (JIRAError, requests.RequestException) as exc:
        raise TrackerError(f"jira: cannot reach {settings.jira_url}: {exc}") from exc
    backoff = backoff or Backoff(
        attempts=settings.tracker_attempts, base_seconds=settings.tracker_retry_base_seconds
    )
    return JiraTracker(client, settings.jira_project, settings.jira_issue_type, backoff)
