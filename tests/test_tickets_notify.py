"""Slack and Teams messages through the chat webhook receiver: when, how often, and what they may contain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from chat_sim.server import SLACK_PATH, ChatSim
from tickets_support import Sleeps, Stores, diagnosis, fast_backoff, job, open_stores

from actions.notify import NotificationRecord, notify_failure
from actions.notify.config import NotifySettings
from actions.policy import Notify
from agent.models import SimilarFailure
from knowledge.text import utcnow

BOTH = Notify(slack=True, teams=True, period_hours=24)


@pytest.fixture
def chat() -> Iterator[ChatSim]:
    server = ChatSim().start()
    yield server
    server.stop()
    assert server.unexpected == []


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    yield from open_stores(tmp_path)


def settings_for(chat: ChatSim) -> NotifySettings:
    return NotifySettings(
        slack_webhook_url=chat.slack_url,  # type: ignore[arg-type]
        teams_webhook_url=chat.teams_url,  # type: ignore[arg-type]
        notify_retry_base_seconds=0.01,
    )


def send(chat: ChatSim, stores: Stores, d=None, j=None, policy: Notify = BOTH, **kw):  # type: ignore[no-untyped-def]
    return notify_failure(
        d or diagnosis(),
        j or job(1),
        policy,
        NotificationRecord(stores.store),
        stores.audit,
        settings=settings_for(chat),
        **kw,
    )


def test_broken_trunk_goes_to_both_channels_once_per_period(chat: ChatSim, stores: Stores) -> None:
    first = send(chat, stores)
    assert [(o.channel, o.outcome) for o in first] == [("slack", "sent"), ("teams", "sent")]
    [slack] = chat.slack
    assert slack["text"].startswith("*CI Medic: broken trunk* in acme/shop (main): AssertionError")
    assert "<https://github.com/acme/shop/actions/runs/1/job/10|job>" in slack["text"]
    [teams] = chat.teams
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["actions"][0]["url"].endswith("/runs/1/job/10")
    assert "msteams" not in card  # no mention entities, ever

    again = send(chat, stores, j=job(2))
    assert [o.outcome for o in again] == ["throttled", "throttled"] and len(chat.slack) == 1
    later = send(chat, stores, j=job(3), now=utcnow() + timedelta(hours=25))
    assert [o.outcome for o in later] == ["sent", "sent"] and len(chat.slack) == 2
    assert [(e.action, e.outcome) for e in stores.audit.entries()].count(("notify.slack", "done")) == 2


def test_a_new_failure_kind_on_a_protected_branch_is_announced_elsewhere_not(
    chat: ChatSim, stores: Stores
) -> None:
    new_on_release = send(
        chat,
        stores,
        d=diagnosis(verdict="new"),
        j=job(1, branch="release/2.1"),
        policy=Notify(slack=True, branches=["release/*"]),
    )
    assert [o.outcome for o in new_on_release] == ["sent"]
    on_a_feature_branch = send(
        chat, stores, d=diagnosis("feedfacefeedface", verdict="new"), j=job(2, branch="wip")
    )
    assert on_a_feature_branch == []
    seen = SimilarFailure(
        fingerprint="0123456789abcdef", similarity=1.0, exact=True, title="t", category="test", occurrences=3
    )
    known = diagnosis("abababababababab", verdict="new").model_copy(update={"similar": [seen]})
    assert send(chat, stores, d=known, j=job(3), policy=Notify(slack=True)) == []
    assert len(chat.slack) == 1


def test_no_mention_and_no_secret_leaves(chat: ChatSim, stores: Stores) -> None:
    token = "xoxb-" + "1234567890-" * 2 + "abcdefABCDEF1234"
    title = f"<!channel> <@U123> @here & <https://evil.example|click> token={token} *bold*"
    send(chat, stores, d=diagnosis(title=title))
    text = chat.slack[0]["text"]
    assert "<!channel>" not in text and "<@U123>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; &lt;@\u200bU123&gt; @\u200bhere &amp; &lt;https://evil.example|click&gt;" in text
    assert token not in text and token not in str(chat.teams)
    block = chat.teams[0]["attachments"][0]["content"]["body"][1]["text"]
    assert "&lt;\\!channel&gt;" in block and "\\*bold\\*" in block and "<at>" not in block


def test_429_is_retried_after_retry_after_and_a_failure_gives_the_period_back(
    chat: ChatSim, stores: Stores
) -> None:
    sleeps = Sleeps()
    chat.fail("POST", SLACK_PATH, status=429, headers={"Retry-After": "3"}, body={"ok": False})
    with httpx.Client(timeout=5) as http:
        out = send(chat, stores, policy=Notify(slack=True), http=http, backoff=fast_backoff(sleeps))
    assert [o.outcome for o in out] == ["sent"] and len(chat.slack) == 1 and sleeps.delays == [3.0]

    chat.fail("POST", SLACK_PATH, status=500, body={"ok": False})
    failed = send(chat, stores, d=diagnosis("1111111111111111"), policy=Notify(slack=True))
    assert failed[0].outcome == "error" and "HTTP 500" in failed[0].message
    assert chat.slack_url not in failed[0].message  # the webhook URL is a credential
    retried = send(chat, stores, d=diagnosis("1111111111111111"), policy=Notify(slack=True))
    assert [o.outcome for o in retried] == ["sent"]  # the failed post did not use up the period


def test_dry_run_sends_nothing_and_records_the_message(chat: ChatSim, stores: Stores) -> None:
    out = send(chat, stores, dry_run=True)
    assert [o.outcome for o in out] == ["dry-run", "dry-run"]
    assert chat.slack == [] and chat.teams == [] and chat.received == []
    entries = stores.audit.entries()
    assert {(e.action, e.outcome) for e in entries} == {
        ("notify.slack", "dry-run"),
        ("notify.teams", "dry-run"),
    }
    assert all("payload" in e.detail for e in entries)


def test_a_channel_without_its_webhook_url_is_a_clear_error(stores: Stores) -> None:
    out = notify_failure(
        diagnosis(),
        job(1),
        Notify(slack=True),
        NotificationRecord(stores.store),
        stores.audit,
        settings=NotifySettings(slack_webhook_url=None),
    )
    assert [(o.outcome, o.message) for o in out] == [("error", "CIMEDIC_SLACK_WEBHOOK_URL is not set")]
