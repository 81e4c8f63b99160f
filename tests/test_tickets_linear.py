"""The ticket life cycle against the Linear simulator (GraphQL run against a subset of Linear's schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from linear_sim.server import LinearSim
from tickets_support import Sleeps, Stores, diagnosis, fast_backoff, job, open_stores

from actions.policy import OnGreen, Tickets
from actions.tickets import ensure_ticket, note_green
from actions.tickets.config import TrackerSettings
from actions.tickets.linear import LinearTracker, make_linear

POLICY = Tickets()
ATTACHMENT = "https://cimedic.invalid/fingerprints/acme/shop/0123456789abcdef"


@pytest.fixture
def sim() -> Iterator[LinearSim]:
    server = LinearSim().start()
    yield server
    server.stop()
    assert server.unexpected == []


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    yield from open_stores(tmp_path)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def tracker_for(sim: LinearSim, sleeps: Sleeps, *, timeout: float = 5.0) -> LinearTracker:
    settings = TrackerSettings(
        linear_url=sim.url + "/graphql",
        linear_api_key=sim.api_key,  # type: ignore[arg-type]
        linear_team=sim.team_key,
        tracker_timeout_seconds=timeout,
    )
    return make_linear(settings, backoff=fast_backoff(sleeps))


def test_a_recurring_failure_is_one_issue_with_comments_and_one_attachment(
    sim: LinearSim, sleeps: Sleeps, stores: Stores
) -> None:
    linear = tracker_for(sim, sleeps)
    outcomes = [
        ensure_ticket(linear, diagnosis(), job(r), stores.record, POLICY, stores.audit) for r in (1, 2, 3)
    ]
    assert [o.action for o in outcomes] == ["created", "commented", "commented"]
    [issue] = sim.issues.values()
    assert outcomes[0].key == issue["identifier"] == "ENG-1" and outcomes[0].url == issue["url"]
    assert issue["title"] == "CI: AssertionError: expected 200, got 503 in test_checkout in acme/shop"
    assert (
        "`broken-trunk`" in issue["description"]
        and "```text\n40 | collected 12 items" in issue["description"]
    )
    assert [a["url"] for a in issue["attachments"]["nodes"]] == [ATTACHMENT]
    assert sim.comments("ENG-1") == [
        "CI Medic saw this failure again on `main`: [CI / tests](https://github.com/acme/shop/actions/runs/2/job/20)."
        " Occurrences so far: 2.",
        "CI Medic saw this failure again on `main`: [CI / tests](https://github.com/acme/shop/actions/runs/3/job/30)."
        " Occurrences so far: 3.",
    ]
    assert sim.operations.count("issueCreate") == 1


def test_a_lost_record_finds_the_issue_by_its_attachment_url(
    sim: LinearSim, sleeps: Sleeps, stores: Stores
) -> None:
    linear = tracker_for(sim, sleeps)
    ensure_ticket(linear, diagnosis(), job(1), stores.record, POLICY, stores.audit)
    with stores.store.write() as conn:
        conn.exec_driver_sql("DELETE FROM cimedic_tickets")
    outcome = ensure_ticket(linear, diagnosis(), job(2), stores.record, POLICY, stores.audit)
    assert (outcome.action, outcome.key) == ("commented", "ENG-1") and len(sim.issues) == 1
    assert "attachmentsForURL" in sim.operations


def test_a_create_that_answers_after_the_timeout_is_found_by_its_own_id(
    sim: LinearSim, sleeps: Sleeps, stores: Stores
) -> None:
    linear = tracker_for(sim, sleeps, timeout=2.0)
    sim.fail_op("issueCreate", status=None, delay_s=4.0)  # carried out, answered after the client gave up
    first = ensure_ticket(linear, diagnosis(), job(1), stores.record, POLICY, stores.audit)
    [issue] = sim.issues.values()
    assert (first.action, first.key) == ("created", issue["identifier"])
    # The id we chose found it, and it got its fingerprint attachment after all.
    assert [a["url"] for a in issue["attachments"]["nodes"]] == [ATTACHMENT]
    assert (
        ensure_ticket(linear, diagnosis(), job(2), stores.record, POLICY, stores.audit).action == "commented"
    )
    assert sim.operations.count("issueCreate") == 1 and len(sim.issues) == 1


def test_rate_limits_are_waited_out(sim: LinearSim, sleeps: Sleeps, stores: Stores) -> None:
    linear = tracker_for(sim, sleeps)
    sim.rate_limit("issueCreate", reset_in_s=3)
    sim.fail_op(
        "commentCreate",
        status=429,
        body={"errors": [{"message": "Too many requests"}]},
        headers={"Retry-After": "5"},
    )
    sim.fail_op("attachmentsForURL", status=502, times=2)
    assert ensure_ticket(linear, diagnosis(), job(1), stores.record, POLICY, stores.audit).action == "created"
    with stores.store.write() as conn:
        conn.exec_driver_sql("DELETE FROM cimedic_tickets")
    assert (
        ensure_ticket(linear, diagnosis(), job(2), stores.record, POLICY, stores.audit).action == "commented"
    )
    assert len(sim.issues) == 1 and len(sim.comments("ENG-1")) == 1
    # the search's 502s back off; the rate limit waits until X-RateLimit-Requests-Reset; 429 for Retry-After
    assert sleeps.delays[:2] == [0.01, 0.02] and 2.0 <= sleeps.delays[2] <= 3.0 and sleeps.delays[3:] == [5.0]


def test_a_create_failing_with_a_5xx_is_looked_up_not_repeated(
    sim: LinearSim, sleeps: Sleeps, stores: Stores
) -> None:
    linear = tracker_for(sim, sleeps)
    sim.fail_op("issueCreate", status=500)  # the server may have acted: in doubt, looked up, not repeated
    assert ensure_ticket(linear, diagnosis(), job(1), stores.record, POLICY, stores.audit).action == "pending"
    assert sim.operations.count("issueCreate") == 1 and sim.issues == {}


def test_green_moves_the_issue_and_a_recurrence_reopens_it(
    sim: LinearSim, sleeps: Sleeps, stores: Stores
) -> None:
    linear = tracker_for(sim, sleeps)
    policy = Tickets(on_green=OnGreen(transition="Done"))
    ensure_ticket(linear, diagnosis(), job(1), stores.record, policy, stores.audit)
    [green] = note_green(linear, job(2), stores.record, policy, stores.audit)
    issue = sim.by_identifier("ENG-1")
    assert green.action == "green" and issue["state"]["type"] == "completed"
    back = ensure_ticket(linear, diagnosis(), job(3), stores.record, policy, stores.audit)
    assert back.action == "reopened" and issue["state"]["name"] == "Todo"
    assert sim.comments("ENG-1")[0].startswith("CI Medic: [CI / tests](")


def test_a_cancelled_issue_long_ago_gets_a_new_related_issue(
    sim: LinearSim, sleeps: Sleeps, stores: Stores
) -> None:
    linear = tracker_for(sim, sleeps)
    ensure_ticket(linear, diagnosis(), job(1), stores.record, POLICY, stores.audit)
    sim.set_state("ENG-1", "canceled")
    assert (
        ensure_ticket(linear, diagnosis(), job(2), stores.record, POLICY, stores.audit).action == "silenced"
    )
    sim.set_state("ENG-1", "canceled", at=1_700_000_000)  # 2023: long past the 30 days
    outcome = ensure_ticket(linear, diagnosis(), job(3), stores.record, POLICY, stores.audit)
    assert (outcome.action, outcome.key) == ("linked", "ENG-2")
    assert [(r["issue"], r["related"], r["type"]) for r in sim.relations] == [("ENG-2", "ENG-1", "related")]


def test_markdown_from_the_log_is_inert(sim: LinearSim, sleeps: Sleeps, stores: Stores) -> None:
    linear = tracker_for(sim, sleeps)
    title = "**x** [y](http://evil.example) @admin <img src=x>"
    excerpt = ["```", "~~~", title]
    ensure_ticket(
        linear, diagnosis(title=title, excerpt=excerpt), job(1), stores.record, POLICY, stores.audit
    )
    text = sim.by_identifier("ENG-1")["description"]
    assert "\\*\\*x\\*\\* \\[y\\]\\(http://evil\\.example\\) @\u200badmin \\<img src=x\\>" in text
    assert "````text\n" in text  # the fence is longer than the log's own backtick run
