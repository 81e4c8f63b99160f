"""The parts of the ticket life cycle that need no tracker: the service's filing rule, the escaping policies,
the policy file's `tickets:` / `notify:` sections, and two workers racing to file the same failure."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jira_sim.server import JiraSim
from tickets_support import Sleeps, diagnosis, fast_backoff, job

from actions.audit import AuditLog
from actions.backoff import parse_retry_after
from actions.notify.message import slack_escape, teams_escape
from actions.policy import Tickets, parse_policy
from actions.tickets import TicketOutcome, TicketRecord, ensure_ticket, should_file
from actions.tickets.config import TrackerSettings
from actions.tickets.jira import make_jira
from actions.tickets.render import JiraWiki, LinearMarkdown
from knowledge.sqlstore import SqlStore

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


def test_the_service_files_by_verdict_or_by_count_on_the_default_branch() -> None:
    policy = Tickets(tracker="jira", verdicts=["broken-trunk"], min_occurrences=3)
    assert should_file(policy, diagnosis(verdict="broken-trunk"))
    assert not should_file(policy, diagnosis(verdict="flaky"), default_branch_occurrences=2)
    assert should_file(policy, diagnosis(verdict="flaky"), default_branch_occurrences=3)
    assert not should_file(Tickets(tracker=None), diagnosis(verdict="broken-trunk"))
    assert not should_file(
        policy.model_copy(update={"min_occurrences": 0}),
        diagnosis(verdict=None),
        default_branch_occurrences=9,
    )


def test_policy_sections_parse_and_a_typo_falls_back_to_dry_run() -> None:
    policy = parse_policy(
        "tickets:\n  tracker: linear\n  when_done: link\n  on_green: {transition: Done}\n"
        "notify:\n  slack: true\n  period_hours: 6\n"
    )
    assert policy.tickets.tracker == "linear" and policy.tickets.when_done == "link"
    assert policy.tickets.on_green.transition == "Done" and policy.notify.period_hours == 6
    assert parse_policy("").tickets.tracker is None and not parse_policy("").notify.slack
    bad = parse_policy("tickets:\n  tracker: bugzilla\n")
    assert bad.dry_run and bad.error is not None


@given(text)
def test_slack_and_teams_text_can_hold_no_mention_or_link(value: str) -> None:
    for escaped in (slack_escape(value), teams_escape(value)):
        assert "<" not in escaped and ">" not in escaped
        assert re.search(r"@[A-Za-z0-9_.-]", escaped) is None


@given(text)
def test_jira_text_has_every_markup_character_escaped(value: str) -> None:
    escaped = JiraWiki().text(value)
    unescaped = re.sub(r"\\.", "", escaped, flags=re.DOTALL)
    assert not set("*_?-+^~{}[]|!#") & set(unescaped)


@given(text)
def test_linear_text_has_every_markdown_character_escaped(value: str) -> None:
    unescaped = re.sub(r"\\.", "", LinearMarkdown().text(value), flags=re.DOTALL)
    assert not set("\\`*_{}[]()#+-.!|<>~&") & set(unescaped)


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'race.db'}"
        return
    from test_kb_support import postgres_database

    with postgres_database() as url:
        yield url


def _race(store: SqlStore, sim: JiraSim, policy: Tickets, first_run: int) -> list[TicketOutcome]:
    """Four workers, each with its own client, handle four jobs that failed the same way at the same time."""
    settings = TrackerSettings(
        jira_url=sim.url, jira_email=sim.email, jira_token=sim.token, jira_project=sim.project
    )  # type: ignore[arg-type]
    barrier = threading.Barrier(4)
    results: list[TicketOutcome] = []
    audit = AuditLog(store.engine)  # its create_all is not safe to race (not this test's subject)

    def worker(run: int) -> None:
        jira = make_jira(settings, backoff=fast_backoff(Sleeps()))
        barrier.wait()
        results.append(ensure_ticket(jira, diagnosis(), job(run), TicketRecord(store), policy, audit))

    threads = [threading.Thread(target=worker, args=(run,)) for run in range(first_run, first_run + 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4
    return results


def test_workers_racing_on_one_failure_file_one_ticket_and_one_successor(sql_url: str) -> None:
    sim = JiraSim(index_delay_s=60).start()
    store = SqlStore(sql_url)
    store.migrate()
    try:
        sim.fail("POST", r"^/rest/api/2/issue$", status=None, delay_s=0.5, times=2)  # slow creates
        results = _race(store, sim, Tickets(), 1)
        assert len(sim.issues) == 1
        assert sorted(r.action for r in results).count("created") == 1
        assert {r.action for r in results} <= {"created", "pending", "commented"}

        sim.resolve("OPS-1", "Done")  # closed, then failing again in four jobs at once
        results = _race(store, sim, Tickets(when_done="link"), 11)
        assert len(sim.issues) == 2 and len(sim.links) == 1
        assert sorted(r.action for r in results).count("linked") == 1
    finally:
        store.close()
        sim.stop()
