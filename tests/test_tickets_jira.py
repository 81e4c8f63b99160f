"""The ticket life cycle against the Jira simulator, through the real `jira` package (Cloud, Data Center)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from jira_sim.server import JiraSim
from tickets_support import Sleeps, Stores, diagnosis, fast_backoff, job, open_stores

from actions.policy import OnGreen, Tickets
from actions.tickets import ensure_ticket, note_green
from actions.tickets.config import TrackerSettings
from actions.tickets.jira import JiraTracker, make_jira
from knowledge.text import utcnow

POLICY = Tickets()


def _start(**kw: object) -> Iterator[JiraSim]:
    sim = JiraSim(**kw).start()  # type: ignore[arg-type]
    yield sim
    sim.stop()
    assert sim.unexpected == [], "CI Medic called endpoints the simulator does not serve"


@pytest.fixture
def sim() -> Iterator[JiraSim]:
    # Search lags a minute behind a create, as Jira Cloud's may: only our own record prevents a duplicate.
    yield from _start(index_delay_s=60)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    yield from open_stores(tmp_path)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def tracker_for(sim: JiraSim, sleeps: Sleeps, *, timeout: float = 5.0) -> JiraTracker:
    auth = {"jira_email": sim.email} if sim.cloud else {}
    settings = TrackerSettings(
        jira_url=sim.url,
        jira_token=sim.token,
        jira_project=sim.project,
        tracker_timeout_seconds=timeout,
        **auth,
    )  # type: ignore[arg-type]
    return make_jira(settings, backoff=fast_backoff(sleeps))


def test_a_recurring_failure_is_one_ticket_with_a_comment_per_occurrence(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps)
    d = diagnosis()
    outcomes = [ensure_ticket(jira, d, job(run), stores.record, POLICY, stores.audit) for run in (1, 2, 3)]

    assert [o.action for o in outcomes] == ["created", "commented", "commented"]
    assert len(sim.issues) == 1
    [issue] = sim.issues.values()
    assert outcomes[0].key == issue["key"] and outcomes[0].url == f"{sim.url}/browse/{issue['key']}"
    assert issue["summary"] == "CI: AssertionError: expected 200, got 503 in test_checkout in acme/shop"
    assert issue["labels"] == ["cimedic", "cimedic-0123456789abcdef"]
    assert "{{test}}" in issue["description"] and "{{broken\\-trunk}}" in issue["description"]
    assert "[CI / tests|https://github.com/acme/shop/actions/runs/1/job/10]" in issue["description"]
    assert sim.comments(issue["key"]) == [
        "CI Medic saw this failure again on {{main}}: [CI / tests|https://github.com/acme/shop/actions/runs/2/job/20]."
        " Occurrences so far: 2.",
        "CI Medic saw this failure again on {{main}}: [CI / tests|https://github.com/acme/shop/actions/runs/3/job/30]."
        " Occurrences so far: 3.",
    ]
    assert stores.actions() == [
        ("ticket.create", "done"),
        ("ticket.comment", "done"),
        ("ticket.comment", "done"),
    ]
    [row] = stores.record.list()
    assert (row.key, row.state, row.occurrences) == (issue["key"], "open", 3)
    # A re-delivered job adds nothing; the new search endpoint is used, never the legacy one (410 on Cloud).
    again = ensure_ticket(jira, d, job(3), stores.record, POLICY, stores.audit)
    assert again.action == "unchanged" and len(sim.comments(issue["key"])) == 2
    assert not sim.requests("GET", r"^/rest/api/2/search$")


def test_a_lost_record_is_made_good_by_the_label_search(sleeps: Sleeps, stores: Stores) -> None:
    for sim in _start(index_delay_s=0):
        jira = tracker_for(sim, sleeps)
        sim_key = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit).key
        with stores.store.write() as conn:  # the database was replaced: our record is gone
            conn.exec_driver_sql("DELETE FROM cimedic_tickets")
        outcome = ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit)
        assert (outcome.action, outcome.key) == ("commented", sim_key)
        assert len(sim.issues) == 1
        assert sim.requests("GET", r"^/rest/api/2/search/jql$")
        assert stores.record.get("jira", "acme/shop", "0123456789abcdef").key == sim_key  # type: ignore[union-attr]


def test_a_create_that_answers_after_the_timeout_ends_as_one_ticket(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps, timeout=2.0)
    # Jira creates the issue but answers after the client gave up; its search does not show it yet.
    sim.fail("POST", r"^/rest/api/2/issue$", status=None, delay_s=4.0, after=True)
    first = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit)
    assert first.action == "pending" and "not retried" in first.message
    assert len(sim.issues) == 1

    second = ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit)
    assert second.action == "pending"  # still invisible to search: left alone, no second create

    for issue in sim.issues.values():  # the search index catches up
        issue["created"] -= 120
    third = ensure_ticket(jira, diagnosis(), job(3), stores.record, POLICY, stores.audit)
    [issue] = sim.issues.values()
    assert (third.action, third.key) == ("commented", issue["key"])
    assert len(sim.requests("POST", r"^/rest/api/2/issue$")) == 1
    assert ("ticket.create", "pending") in stores.actions()


def test_a_create_in_doubt_that_search_already_shows_is_taken(sleeps: Sleeps, stores: Stores) -> None:
    for sim in _start(index_delay_s=0):
        jira = tracker_for(sim, sleeps, timeout=2.0)
        sim.fail("POST", r"^/rest/api/2/issue$", status=None, delay_s=4.0, after=True)
        outcome = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit)
        [issue] = sim.issues.values()
        assert (outcome.action, outcome.key) == ("created", issue["key"])


def test_dry_run_writes_nothing_and_records_what_it_would_have_written(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps)
    outcome = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit, dry_run=True)
    assert outcome.action == "created" and outcome.dry_run and outcome.key is None
    assert sim.issues == {}
    assert not [c for c in sim.received if c[0] != "GET"]
    assert stores.record.list() == []
    [entry] = stores.audit.entries()
    assert (entry.action, entry.outcome) == ("ticket.create", "dry-run")
    assert entry.detail["labels"] == ["cimedic", "cimedic-0123456789abcdef"]


def test_429_and_5xx_are_retried_honouring_retry_after(sim: JiraSim, sleeps: Sleeps, stores: Stores) -> None:
    jira = tracker_for(sim, sleeps)
    sim.fail("POST", r"^/rest/api/2/issue$", status=429, headers={"Retry-After": "7"})
    sim.fail("POST", r"/comment$", status=503, headers={"Retry-After": "2"})
    assert ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit).action == "created"
    sim.fail("GET", r"^/rest/api/2/issue/OPS-1$", status=502, times=2)
    assert ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit).action == "commented"
    assert len(sim.issues) == 1 and len(sim.comments("OPS-1")) == 1
    assert sleeps.delays[:2] == [7.0, 0.01] and sleeps.delays[2:] == [0.02, 2.0]


def test_a_create_refused_for_good_is_an_audited_error_and_files_later(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps)
    sim.fail("POST", r"^/rest/api/2/issue$", status=400, body={"errorMessages": [], "errors": {"x": "bad"}})
    outcome = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit)
    assert outcome.action == "error" and "HTTP 400" in outcome.message
    assert stores.record.list() == [] and stores.actions() == [("ticket.create", "error")]
    assert ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit).action == "created"


def test_green_again_comments_and_transitions_then_a_recurrence_reopens(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps)
    policy = Tickets(on_green=OnGreen(comment=True, transition="Done"))
    key = ensure_ticket(jira, diagnosis(), job(1), stores.record, policy, stores.audit).key
    assert key is not None
    [green] = note_green(jira, job(2), stores.record, policy, stores.audit)
    assert green.action == "green" and sim.issues[key]["status"] == "Done"
    assert sim.comments(key) == [
        "CI Medic: [CI / tests|https://github.com/acme/shop/actions/runs/2/job/20] is green again."
    ]
    assert note_green(jira, job(3), stores.record, policy, stores.audit) == []  # nothing open from that job

    back = ensure_ticket(jira, diagnosis(), job(4), stores.record, policy, stores.audit)
    assert (back.action, back.key) == ("reopened", key)
    assert sim.issues[key]["status"] == "To Do" and sim.comments(key)[-1].startswith("Reopened by CI Medic")
    assert len(sim.issues) == 1


def test_done_then_failing_again_files_a_linked_ticket_under_the_link_policy(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps)
    policy = Tickets(when_done="link")
    first = ensure_ticket(jira, diagnosis(), job(1), stores.record, policy, stores.audit).key
    assert first is not None
    sim.resolve(first, "Done")
    second = ensure_ticket(jira, diagnosis(), job(2), stores.record, policy, stores.audit)
    assert second.action == "linked" and second.key not in (None, first)
    assert sim.links == [{"type": "Relates", "inward": second.key, "outward": first}]
    assert ensure_ticket(jira, diagnosis(), job(3), stores.record, policy, stores.audit).key == second.key


def test_wont_fix_silences_for_a_while_but_not_forever(sim: JiraSim, sleeps: Sleeps, stores: Stores) -> None:
    jira = tracker_for(sim, sleeps)
    first = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit).key
    assert first is not None
    sim.resolve(first, "Won't Fix")
    quiet = ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit)
    assert quiet.action == "silenced" and sim.comments(first) == [] and len(sim.issues) == 1

    sim.resolve(first, "Won't Fix", at=time.time() - 40 * 86400)  # dismissed longer ago than 30 days
    later = ensure_ticket(jira, diagnosis(), job(3), stores.record, POLICY, stores.audit)
    assert later.action == "linked" and len(sim.issues) == 2 and sim.issues[first]["status"] == "Done"


def test_data_center_uses_a_bearer_token_and_the_v2_search(sleeps: Sleeps, stores: Stores) -> None:
    for sim in _start(cloud=False, token="dc-personal-access-token"):
        jira = tracker_for(sim, sleeps)
        key = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit).key
        with stores.store.write() as conn:
            conn.exec_driver_sql("DELETE FROM cimedic_tickets")
        assert ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit).key == key
        assert sim.requests("GET", r"^/rest/api/2/search$") and not sim.requests("GET", r"search/jql")


def test_log_text_cannot_format_link_or_mention_in_jira(sim: JiraSim, sleeps: Sleeps, stores: Stores) -> None:
    jira = tracker_for(sim, sleeps)
    title = "*boom* [~admin] {color:red}x{color} @here [click|http://evil.example]"
    excerpt = ["{noformat}", "ghp_" + "a" * 36, title]
    ensure_ticket(jira, diagnosis(title=title, excerpt=excerpt), job(1), stores.record, POLICY, stores.audit)
    [issue] = sim.issues.values()
    text = issue["description"]
    assert (
        "\\*boom\\* \\[\\~admin\\] \\{color:red\\}x\\{color\\} @\u200bhere \\[click\\|http://evil.example\\]"
        in text
    )
    assert text.count("{noformat}") == 2  # the log's own "{noformat}" cannot close the block
    assert "ghp_" + "a" * 36 not in text  # redacted before it leaves
    assert "\n" not in issue["summary"] and len(issue["summary"]) <= 255


def test_pending_grace_runs_out_and_the_next_occurrence_files(
    sim: JiraSim, sleeps: Sleeps, stores: Stores
) -> None:
    jira = tracker_for(sim, sleeps, timeout=2.0)
    sim.fail(
        "POST", r"^/rest/api/2/issue$", status=502
    )  # the server failed: the create may or may not be there
    assert ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit).action == "pending"
    later = utcnow() + timedelta(minutes=11)
    outcome = ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit, now=later)
    assert outcome.action == "created" and len(sim.issues) == 1


def test_a_deleted_ticket_is_filed_again(sim: JiraSim, sleeps: Sleeps, stores: Stores) -> None:
    jira = tracker_for(sim, sleeps)
    first = ensure_ticket(jira, diagnosis(), job(1), stores.record, POLICY, stores.audit).key
    assert first is not None
    del sim.issues[first]  # deleted by hand: Jira answers 404 for it
    again = ensure_ticket(jira, diagnosis(), job(2), stores.record, POLICY, stores.audit)
    assert again.action == "created" and again.key != first and list(sim.issues) == [again.key]
    assert stores.record.get("jira", "acme/shop", "0123456789abcdef").key == again.key  # type: ignore[union-attr]
