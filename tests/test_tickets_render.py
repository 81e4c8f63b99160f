"""Property tests: text from a log or a job cannot inject markup, links or mentions into any target.

Jira wiki markup (REST v2, Cloud and Data Center), Linear Markdown, Slack mrkdwn, the Teams card and the
sticky comment's ticket line each get their own escaping; here arbitrary text goes through the whole
renderers (a ticket description, the comments, the chat messages), and what comes out is checked by
parsing it: CommonMark with markdown-it-py for Markdown, the documented syntax for the others.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from tickets_support import diagnosis, job

from actions.github_comment import TicketLink, ticket_line
from actions.notify.message import slack_payload, teams_payload
from actions.tickets import render
from actions.tickets.render import JiraWiki, LinearMarkdown

# Text as hostile as a log can be, with the targets' own syntax mixed in.
SYNTAX = [
    "[~admin]",
    "[~accountid:5b10a2844c20165700ede21g]",
    "[click|https://evil.example]",
    "{noformat}",
    "{NoFormat}",
    "{code}",
    "@here",
    "@channel",
    "<!channel>",
    "<!here>",
    "<@U024BE7LH>",
    "<https://evil.example|x>",
    "[x](https://evil.example)",
    "![i](https://evil.example/i.png)",
    "<b>",
    "`",
    "```",
    "*",
    "_",
    "|",
    "\\",
    "\n",
    "@octocat",
]
hostile = st.lists(
    st.one_of(st.sampled_from(SYNTAX), st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)))),
    max_size=8,
).map("".join)
MENTION = re.compile(r"@[A-Za-z0-9_.-]")
md = MarkdownIt("commonmark")


def _inline(markdown: str) -> list[Token]:
    out = []
    for block in md.parse(markdown):
        out.append(block)
        out += list(block.children or [])
    return out


def _unescaped_jira(text: str) -> str:
    """Jira text with its `{noformat}` blocks and backslash-escaped characters taken out."""
    text = re.sub(r"\{noformat\}.*?\{noformat\}", "", text, flags=re.DOTALL | re.IGNORECASE)
    return re.sub(r"\\.", "", text, flags=re.DOTALL)


@settings(max_examples=150, deadline=None)
@given(title=hostile, name=hostile, branch=hostile, lines=st.lists(hostile, min_size=1, max_size=5))
@example(title="", name="", branch="@[~admin]", lines=[""])  # found by the property: `@` before an escape
def test_a_jira_description_holds_our_links_only_and_one_verbatim_block(
    title: str, name: str, branch: str, lines: list[str]
) -> None:
    d = diagnosis(title=title or "x", excerpt=lines)
    j = job(3, name=name or "tests", branch=branch or "main")
    text = render.description(d, j, JiraWiki())
    # Exactly one {noformat} block: the log's own `{noformat}` cannot close it early.
    assert len(re.findall(r"\{noformat\}", text, flags=re.IGNORECASE)) == 2
    rest = _unescaped_jira(text)
    # The only link is the job's, built by us; no mention, no other link or image can be formed.
    assert "[~" not in rest and "!" not in rest
    assert re.findall(r"\[[^\]]*\|([^\]]*)\]", rest) == [j.url]
    for comment in (render.recurrence_comment(4, j, JiraWiki()), render.green_comment(j, JiraWiki())):
        assert re.findall(r"\[[^\]]*\|([^\]]*)\]", _unescaped_jira(comment)) == [j.url]
        assert "[~" not in _unescaped_jira(comment)
    assert MENTION.search(rest) is None


@settings(max_examples=150, deadline=None)
@given(title=hostile, name=hostile, lines=st.lists(hostile, min_size=1, max_size=5))
def test_a_linear_description_parses_to_our_link_and_one_code_block(
    title: str, name: str, lines: list[str]
) -> None:
    d = diagnosis(title=title or "x", excerpt=lines)
    j = job(3, name=name or "tests")
    tokens = _inline(render.description(d, j, LinearMarkdown()))
    links = [t.attrGet("href") for t in tokens if t.type == "link_open"]
    assert links == [j.url]
    assert not [t for t in tokens if t.type in ("image", "html_inline", "html_block")]
    assert [t.type for t in tokens if t.type in ("fence", "code_block")] == ["fence"]
    texts = [t.content for t in tokens if t.type == "text"]
    assert not any(MENTION.search(t) for t in texts)


@settings(max_examples=200, deadline=None)
@given(key=hostile, url=hostile, note=hostile)
def test_the_comments_ticket_line_links_only_an_http_url_and_mentions_nobody(
    key: str, url: str, note: str
) -> None:
    line = ticket_line(TicketLink(key or None, "https://jira.example/browse/" + url, note or None))
    if line is None:
        return
    tokens = _inline(line)
    hrefs = [t.attrGet("href") for t in tokens if t.type == "link_open"]
    assert len(hrefs) <= 1 and all(str(h).startswith("https://jira.example/browse/") for h in hrefs)
    assert not [t for t in tokens if t.type in ("image", "html_inline", "html_block")]
    assert not any(MENTION.search(t.content) for t in tokens if t.type == "text")
    # A URL that is not http(s) is never a link.
    assert "](" not in (ticket_line(TicketLink("OPS-1", "javascript:alert(1)" + url)) or "")


@settings(max_examples=200, deadline=None)
@given(title=hostile, repo=hostile, branch=hostile)
def test_slack_text_has_no_mention_and_only_our_links(title: str, repo: str, branch: str) -> None:
    j = job(5, repo=repo or "acme/shop", branch=branch or "main")
    text = slack_payload(
        diagnosis(title=title or "x"), j, "broken trunk", "https://jira.example/browse/OPS-1"
    )["text"]
    # Slack's control sequences are `<...>`: ours are the two links, anything else was escaped.
    controls = re.findall(r"<([^>]*)>", text)
    assert [c.rsplit("|", 1)[1] for c in controls] == ["job", "ticket"]
    assert not any(c.startswith(("!", "@", "#")) or "<" in c for c in controls)
    assert MENTION.search(re.sub(r"<[^>]*>", "", text)) is None


@settings(max_examples=100, deadline=None)
@given(title=hostile, repo=hostile)
def test_a_teams_card_has_no_mention_entity_or_tag(title: str, repo: str) -> None:
    payload = teams_payload(
        diagnosis(title=title or "x"), job(5, repo=repo or "acme/shop"), "new failure kind"
    )
    card = payload["attachments"][0]["content"]
    assert "msteams" not in card
    for block in card["body"]:
        assert "<" not in block["text"] and MENTION.search(block["text"]) is None
