"""A diagnosis as ticket text: one escaping policy per tracker (Jira wiki markup, Linear Markdown).

Everything taken from a log or a job goes through `agent.redaction` first (the diagnosis is redacted already;
a job name or URL is not) and then through the target's escaping, so log text can neither format, link nor
mention anyone.

- Jira wiki markup (Jira Cloud REST v2 and Data Center take it in `description` and comment `body`):
  https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa ; a backslash escapes a markup character;
  `{noformat}` shows text verbatim up to the next `{noformat}`; `[~name]` is a mention, `[a|url]` a link.
- Linear: issue descriptions and comments are Markdown (https://linear.app/docs/editor); CommonMark
  backslash escapes any ASCII punctuation (spec 0.31, 2.4); code fences are longer than any backtick run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from actions.tickets.model import Markup, TicketDraft
from agent.models import Diagnosis, JobContext, LogLine
from agent.redact import redact
from agent.render import code_block, code_span

SUMMARY_LIMIT = 250  # Jira's summary holds 255 characters; Linear's title has no documented limit
EXCERPT_LINES = 40
# `@` before a name, or before an escaped character that may be followed by one (`@\[~admin\]`): a zero-width
# space after it keeps a tracker or reader from taking it for a mention.
_MENTION = re.compile(r"@(?=[A-Za-z0-9_.\\-])")
_JIRA_SPECIAL = re.compile(r"([\\*_?\-+^~{}\[\]|!#])")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")
_NOFORMAT = re.compile(r"\{noformat", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def label_for(fingerprint: str) -> str:
    """The label a ticket carries so that it can be found again by fingerprint (labels have no spaces)."""
    return f"cimedic-{fingerprint}"


def one_line(value: str) -> str:
    return _SPACES.sub(" ", redact(value)).strip()


def _safe_url(url: str) -> str:
    # Only http(s) links; characters that could end the link in either markup are percent-encoded.
    url = redact(url).strip()
    if not url.lower().startswith(("https://", "http://")):
        return ""
    return quote(url, safe=":/?#=&%@!$'*+,;~.-_")


class JiraWiki:
    def text(self, value: str) -> str:
        return _MENTION.sub("@\u200b", _JIRA_SPECIAL.sub(r"\\\1", redact(value)))

    def code(self, value: str) -> str:
        return "{{" + self.text(one_line(value)) + "}}"

    def block(self, lines: list[str]) -> str:
        body = "\n".join(_NOFORMAT.sub("{\u200bnoformat", redact(line)) for line in lines)
        return "{noformat}\n" + body + "\n{noformat}"

    def link(self, label: str, url: str) -> str:
        safe = _safe_url(url).replace("|", "%7C").replace("]", "%5D").replace("[", "%5B")
        return f"[{self.text(one_line(label))}|{safe}]" if safe else self.text(one_line(label))

    def bold(self, value: str) -> str:
        return f"*{self.text(value)}*"


class LinearMarkdown:
    def text(self, value: str) -> str:
        return _MENTION.sub("@\u200b", _MD_SPECIAL.sub(r"\\\1", redact(value)))

    def code(self, value: str) -> str:
        return code_span(_MENTION.sub("@\u200b", one_line(value)))

    def block(self, lines: list[str]) -> str:
        return code_block([redact(line) for line in lines])

    def link(self, label: str, url: str) -> str:
        safe = _safe_url(url).replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")
        return f"[{self.text(one_line(label))}]({safe})" if safe else self.text(one_line(label))

    def bold(self, value: str) -> str:
        return f"**{self.text(value)}**"


def _numbered(items: Sequence[LogLine]) -> list[str]:
    width = len(str(items[-1].line)) if items else 1
    return [f"{i.line:>{width}} | {i.text}" for i in items]


def job_label(job: JobContext) -> str:
    return one_line(" / ".join(part for part in (job.workflow, job.job) if part) or "the job")


def summary(diagnosis: Diagnosis, job: JobContext) -> str:
    """Plain text (Jira's summary and Linear's title render no markup): title and repository."""
    where = f" in {job.repo}" if job.repo else ""
    text = one_line(f"CI: {diagnosis.title}{where}")
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def description(diagnosis: Diagnosis, job: JobContext, m: Markup) -> str:
    verdict = diagnosis.verdict
    lines = [
        f"{m.bold('CI Medic')} found this failure"
        + (f" in {m.code(job.repo)}" if job.repo else "")
        + f": {m.text(one_line(diagnosis.title))}",
        "",
        f"- Category: {m.code(diagnosis.category.value)}",
        f"- Verdict: {m.code(verdict.kind)} {m.text(one_line(verdict.reason))}"
        if verdict
        else "- Verdict: none (outside the service)",
        f"- Job: {m.link(job_label(job), job.url)}" if job.url else f"- Job: {m.text(job_label(job))}",
    ]
    if job.branch:
        lines.append(
            f"- Branch: {m.code(job.branch)}" + (f" at {m.code(job.commit[:12])}" if job.commit else "")
        )
    lines += [
        f"- Fingerprint: {m.code(diagnosis.fingerprint)} (CI Medic adds each recurrence here as a comment)",
        "",
        m.bold("Excerpt"),
        m.block(_numbered(diagnosis.excerpt[-EXCERPT_LINES:])),
    ]
    fix = diagnosis.remediation
    if fix.explanation or fix.steps:
        lines += ["", m.bold("What to do")]
        if fix.explanation:
            lines.append(m.text(fix.explanation))
        lines += [f"- {m.text(step)}" for step in fix.steps]
    return "\n".join(lines)


def draft(diagnosis: Diagnosis, job: JobContext, m: Markup, *, draft_id: str = "") -> TicketDraft:
    return TicketDraft(
        fingerprint=diagnosis.fingerprint,
        repo=job.repo or "",
        summary=summary(diagnosis, job),
        description=description(diagnosis, job, m),
        labels=("cimedic", label_for(diagnosis.fingerprint)),
        draft_id=draft_id,
    )


def recurrence_comment(count: int, job: JobContext, m: Markup) -> str:
    where = m.link(job_label(job), job.url) if job.url else m.text(job_label(job))
    branch = f" on {m.code(job.branch)}" if job.branch else ""
    return f"CI Medic saw this failure again{branch}: {where}. Occurrences so far: {count}."


def green_comment(job: JobContext, m: Markup) -> str:
    where = m.link(job_label(job), job.url) if job.url else m.text(job_label(job))
    return f"CI Medic: {where} is green again."


def reopen_comment(count: int, job: JobContext, m: Markup) -> str:
    return "Reopened by CI Medic: the failure is back. " + recurrence_comment(count, job, m)


def link_comment(earlier_key: str, m: Markup) -> str:
    return f"CI Medic: this failure was filed before as {m.code(earlier_key)}, which was closed; it is back."
