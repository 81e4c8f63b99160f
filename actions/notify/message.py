"""The compact chat message for a failure, escaped for Slack mrkdwn and for a Teams Adaptive Card.

- Slack: "&", "<" and ">" are the only characters to escape (https://api.slack.com/reference/surfaces/formatting#escaping);
  with them escaped, no `<!channel>`, `<!here>` or `<@U…>` mention can be formed, and an `@` is followed by a
  zero-width space so that no client links a name either.
- Teams: Workflows webhooks post an Adaptive Card (https://learn.microsoft.com/en-us/connectors/teams/?tabs=text1#microsoft-teams-webhook);
  a mention needs an `<at>` tag and an entity in `msteams.entities` (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format),
  so "<" and ">" are escaped and no entity is ever sent; Markdown characters are backslash-escaped.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any
from urllib.parse import quote

from actions.policy import Notify
from agent.models import Diagnosis, JobContext
from agent.redact import redact

_MENTION = re.compile(r"@(?=[A-Za-z0-9_.-])")
_TEAMS_MD = re.compile(r"([\\`*_{}\[\]()#+\-!|~])")
_SPACES = re.compile(r"\s+")
TITLE_LIMIT = 200
_URL_SAFE = ":/?#=&%@!$'*+,;~.-_"


def _plain(value: str, limit: int = TITLE_LIMIT) -> str:
    text = _SPACES.sub(" ", redact(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(value: str) -> str:
    text = _plain(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b", text)


def teams_escape(value: str) -> str:
    text = _plain(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b", _TEAMS_MD.sub(r"\\\1", text))


def _http_url(url: str | None) -> str | None:
    url = redact(url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else None


def reason_to_notify(
    diagnosis: Diagnosis, job: JobContext, policy: Notify, *, default_branch: str | None
) -> str | None:
    """Why this failure deserves a message ("broken trunk", "new failure kind"), or None.

    A new kind of failure is one the knowledge base has never seen exactly (no exact `similar` match) on a
    protected branch: the default branch or one matching `policy.branches`.
    """
    if diagnosis.verdict is not None and diagnosis.verdict.kind == "broken-trunk":
        return "broken trunk"
    branch = job.branch
    protected = branch is not None and (
        branch == default_branch or any(fnmatch.fnmatchcase(branch, p) for p in policy.branches)
    )
    if protected and not any(s.exact for s in diagnosis.similar):
        return "new failure kind"
    return None


def _headline(diagnosis: Diagnosis, job: JobContext, reason: str) -> tuple[str, str, str]:
    where = job.repo or "a local log"
    branch = f" ({job.branch})" if job.branch else ""
    return reason, f"{where}{branch}", diagnosis.title


def slack_payload(
    diagnosis: Diagnosis, job: JobContext, reason: str, ticket_url: str | None = None
) -> dict[str, Any]:
    reason, where, title = _headline(diagnosis, job, reason)
    text = f"*CI Medic: {slack_escape(reason)}* in {slack_escape(where)}: {slack_escape(title)}"
    text += f" · {slack_escape(diagnosis.category.value)} · fingerprint {slack_escape(diagnosis.fingerprint)}"
    for label, url in (("job", _http_url(job.url)), ("ticket", _http_url(ticket_url))):
        if url:
            # Percent-encoded: no "|", "<", ">" or space can end or nest a control sequence.
            text += f" · <{quote(url, safe=_URL_SAFE)}|{label}>"
    # link_names stays unset and unfurls off: a message never pings anyone and never expands a log page.
    return {"text": text, "unfurl_links": False, "unfurl_media": False}


def teams_payload(
    diagnosis: Diagnosis, job: JobContext, reason: str, ticket_url: str | None = None
) -> dict[str, Any]:
    reason, where, title = _headline(diagnosis, job, reason)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"**CI Medic: {teams_escape(reason)}** in {teams_escape(where)}",
            "wrap": True,
        },
        {"type": "TextBlock", "text": teams_escape(title), "wrap": True},
        {
            "type": "TextBlock",
            "text": teams_escape(f"{diagnosis.category.value} · fingerprint {diagnosis.fingerprint}"),
            "wrap": True,
            "isSubtle": True,
        },
    ]
    actions = [
        {"type": "Action.OpenUrl", "title": label, "url": url}
        for label, url in (("Open job", _http_url(job.url)), ("Open ticket", _http_url(ticket_url)))
        if url
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
