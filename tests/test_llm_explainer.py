"""The explainer's behaviour on every failure mode, through the real OpenAI-compatible code path.

Requests go to a scripted fake (`llm_support.FakeOpenAI`, an httpx2 MockTransport), so pydantic-ai, the
OpenAI SDK and the structured-output request are all exercised without a socket.
"""

from __future__ import annotations

import json

import httpx2
import pytest
from llm_support import LOG, FakeOpenAI, answer, compatible_entry, diagnosis, explainer, known_fix

from agent.llm import PROMPT_VERSION
from agent.llm.store import LlmStore
from agent.models import Diagnosis, LogLine


def test_verified_answer_with_structured_output_request() -> None:
    fake = FakeOpenAI(answer())
    with explainer(fake) as ex:
        result = ex.explain(diagnosis(), LOG)
        outcome = ex.last_outcome
    assert result is not None and result.verified
    assert [e.line for e in result.evidence] == [11, 13]
    assert result.evidence[0].text == LOG[10]
    assert result.model == "compatible:fake"
    assert (result.prompt_tokens, result.completion_tokens) == (900, 120)
    assert outcome.status == "ok"
    request = fake.requests[0]
    # structured output: the JSON schema goes in response_format, and the model gets no tools
    assert request["response_format"]["type"] == "json_schema"
    assert "evidence" in request["response_format"]["json_schema"]["schema"]["properties"]
    assert not request.get("tools")
    assert request["temperature"] == 0


def test_unverifiable_evidence_is_dropped_and_marked() -> None:
    bad = answer(
        evidence=[
            {"line": 999, "quote": "ZeroDivisionError"},  # no such line
            {"line": 3, "quote": "segmentation fault"},  # quote not on that line
            {"line": 0 + 1, "quote": ""},  # exists but was never shown and has no quote
        ]
    )
    fake = FakeOpenAI(bad)
    with explainer(fake) as ex:
        result = ex.explain(diagnosis(), LOG)
        outcome = ex.last_outcome
    assert result is not None
    assert not result.verified and result.evidence == []
    assert outcome.status == "unverified"
    assert len(outcome.dropped) == 3


def test_partially_verified_keeps_only_true_lines() -> None:
    fake = FakeOpenAI(
        answer(evidence=[{"line": 11, "quote": "division by zero"}, {"line": 12, "quote": "nope"}])
    )
    with explainer(fake) as ex:
        result = ex.explain(diagnosis(), LOG)
    assert result is not None and result.verified
    assert [e.line for e in result.evidence] == [11]


def test_rate_limit_then_success_retries_with_backoff() -> None:
    fake = FakeOpenAI(
        httpx2.Response(429, json={"error": {"message": "slow down", "type": "rate_limit_exceeded"}}),
        httpx2.Response(500, json={"error": {"message": "boom"}}),
        answer(),
    )
    with explainer(fake, retries=2) as ex:
        result = ex.explain(diagnosis(), LOG)
        statuses = [a.status for a in ex.last_outcome.attempts]
    assert result is not None and result.verified
    assert statuses == ["error", "error", "ok"]
    assert len(fake.requests) == 3


def test_retries_are_bounded_then_next_model() -> None:
    calls: list[str] = []

    def server_error() -> httpx2.Response:
        calls.append("500")
        return httpx2.Response(500, json={"error": {"message": "internal"}})

    fake = FakeOpenAI(server_error, server_error, server_error, answer())
    entries = [
        compatible_entry("first", "http://127.0.0.1:9/v1"),
        compatible_entry("second", "http://127.0.0.1:8/v1"),
    ]
    with explainer(fake, entries=entries, retries=2) as ex:
        result = ex.explain(diagnosis(), LOG)
    assert len(calls) == 3  # 1 attempt + 2 retries on the first model
    assert result is not None and result.model == "compatible:second"


def test_timeout_falls_back_to_next_model() -> None:
    fake = FakeOpenAI(3.0, answer())  # first request hangs for 3 s, the per-attempt timeout is 0.5 s
    entries = [
        compatible_entry("slow", "http://127.0.0.1:9/v1"),
        compatible_entry("fast", "http://127.0.0.1:8/v1"),
    ]
    with explainer(fake, entries=entries, timeout=0.5, retries=0) as ex:
        result = ex.explain(diagnosis(), LOG)
        first = ex.last_outcome.attempts[0]
    assert result is not None and result.model == "compatible:fast"
    assert first.status == "error" and first.latency < 2.5
    assert "Timeout" in first.detail or "timed out" in first.detail


def test_malformed_json_gets_one_corrective_retry_then_gives_up() -> None:
    fake = FakeOpenAI("this is not json {", "still not json")
    with explainer(fake) as ex:
        result = ex.explain(diagnosis(), LOG)
        outcome = ex.last_outcome
    assert result is None
    assert outcome.status == "failed"
    assert len(fake.requests) == 2  # the answer plus one retry with the validation error
    assert outcome.attempts[0].status == "invalid"
    # tokens of failed attempts are still counted
    assert outcome.prompt_tokens == 1800


def test_schema_violation_and_out_of_range_value() -> None:
    missing = answer()
    del missing["root_cause"]
    out_of_range = answer(evidence=[{"line": -4, "quote": "x"}], confidence="certain")
    fake = FakeOpenAI(missing, out_of_range)
    with explainer(fake) as ex:
        assert ex.explain(diagnosis(), LOG) is None
    fake = FakeOpenAI(out_of_range, answer())  # the corrective retry succeeds
    with explainer(fake) as ex:
        result = ex.explain(diagnosis(), LOG)
    assert result is not None and result.verified
    retry_prompt = json.dumps(fake.requests[1]["messages"])
    assert "confidence" in retry_prompt  # pydantic-ai told the model what was wrong


def test_client_error_is_not_retried() -> None:
    fake = FakeOpenAI(httpx2.Response(401, json={"error": {"message": "bad key", "type": "invalid_api_key"}}))
    with explainer(fake, retries=3) as ex:
        assert ex.explain(diagnosis(), LOG) is None
    assert len(fake.requests) == 1


def test_circuit_breaker_opens_and_skips_endpoint() -> None:
    fake = FakeOpenAI(httpx2.Response(503, json={"error": {"message": "down"}}))
    with explainer(fake, retries=0, breaker_failures=2, breaker_cooldown=3600) as ex:
        assert ex.explain(diagnosis(), LOG) is None
        assert ex.explain(diagnosis(), LOG) is None
        assert ex.breaker_state("compat@http://127.0.0.1:9/v1") == "open"
        sent = len(fake.requests)
        assert ex.explain(diagnosis(), LOG) is None
        assert len(fake.requests) == sent  # refused at once, no request
        assert ex.last_outcome.attempts[0].status == "breaker-open"


def test_huge_log_is_trimmed_to_the_token_budget() -> None:
    lines = [f"noise line {i} " + "x" * 150 for i in range(200_000)]
    lines[150_000] = "E   AssertionError: expected 3, got 4"
    diag = diagnosis(
        lines,
        focus=[LogLine(line=150_001, text=lines[150_000])],
        excerpt=[LogLine(line=n, text=lines[n - 1]) for n in range(149_000, 151_000)],
    )
    fake = FakeOpenAI(answer(evidence=[{"line": 150_001, "quote": "expected 3, got 4"}]))
    with explainer(fake, max_prompt_tokens=2000) as ex:
        result = ex.explain(diag, lines)
        outcome = ex.last_outcome
    assert result is not None and result.verified
    sent = fake.prompts[0]
    assert len(sent) / 3.5 < 2000
    assert "150001 | E   AssertionError" in sent
    assert "excerpt" in outcome.trimmed


def test_budget_stops_calls_when_spent() -> None:
    store = LlmStore(None)
    prices = {"openai-compatible:http://127.0.0.1:9/v1#fake": {"input": 1000.0, "output": 1000.0}}
    fake = FakeOpenAI(answer())
    with explainer(fake, store=store, prices=prices, budget_usd_repo=3.0, cache=False) as ex:
        first = ex.explain(diagnosis(), LOG)
        assert first is not None and first.cost_usd == pytest.approx(1.02)  # 900 + 120 tokens at $1000/M
        # spent $1.02; the next call could cost up to ~$2.2 (prompt estimate + max output tokens) > $3 left
        assert ex.explain(diagnosis(), LOG) is None
        assert ex.last_outcome.status == "budget"
        # another repository still has its own budget
        other = ex.bind("acme/other")
        assert other.explain(diagnosis(), LOG) is not None
        assert store.spent().calls == 2 and store.spent(repo="acme/app").calls == 1
    assert len(fake.requests) == 2


def test_global_call_budget() -> None:
    fake = FakeOpenAI(answer())
    with explainer(fake, calls_per_day=1, cache=False) as ex:
        assert ex.explain(diagnosis(), LOG) is not None
        assert ex.bind("someone/else").explain(diagnosis(), LOG) is None
    assert len(fake.requests) == 1


def test_known_resolution_skips_the_call() -> None:
    fake = FakeOpenAI(answer())
    with explainer(fake) as ex:
        assert ex.explain(diagnosis(similar=[known_fix()]), LOG) is None
        assert ex.last_outcome.status == "known-resolution"
    assert fake.requests == []
    # a near neighbour (not exact) or an exact match without a fix does not skip
    near = known_fix().model_copy(update={"exact": False})
    unresolved = known_fix().model_copy(update={"resolution": None})
    fake = FakeOpenAI(answer())
    with explainer(fake) as ex:
        assert ex.explain(diagnosis(similar=[near, unresolved]), LOG) is not None
    assert "guard divide()" in fake.prompts[0]  # similar failures with fixes go into the prompt


def test_cache_by_fingerprint_model_and_prompt_version() -> None:
    store = LlmStore(None)
    fake = FakeOpenAI(answer())
    with explainer(fake, store=store) as ex:
        assert ex.explain(diagnosis(), LOG) is not None
        # the same failure in a rerun whose log has two more lines at the top: quotes relocate the evidence
        shifted = ["setup", "more setup", *LOG]
        diag = diagnosis(shifted, focus=[LogLine(line=13, text=shifted[12])], excerpt=[])
        again = ex.explain(diag, shifted)
        assert ex.last_outcome.status == "cached"
        key = ("fp-zero-division", "openai-compatible:http://127.0.0.1:9/v1#fake", PROMPT_VERSION)
        assert store.get_answer(*key, 1) is not None
    assert len(fake.requests) == 1
    assert again is not None and again.verified and [e.line for e in again.evidence] == [13, 15]
    assert again.prompt_tokens == 0 and again.cost_usd == 0


def test_unverified_answers_are_not_cached() -> None:
    store = LlmStore(None)
    fake = FakeOpenAI(answer(evidence=[{"line": 5000, "quote": "x"}]))
    with explainer(fake, store=store) as ex:
        ex.explain(diagnosis(), LOG)
        ex.explain(diagnosis(), LOG)
    assert len(fake.requests) == 2


def test_never_raises_on_unexpected_errors() -> None:
    def explode() -> httpx2.Response:
        raise RuntimeError("transport exploded")

    fake = FakeOpenAI(explode)
    with explainer(fake, retries=0) as ex:
        assert ex.explain(diagnosis(), LOG) is None


def test_redaction_before_sending() -> None:
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    lines = [*LOG[:10], f"E       ZeroDivisionError: token={secret}", *LOG[11:]]
    fake = FakeOpenAI(answer())
    with explainer(fake) as ex:
        ex.explain(diagnosis(lines), lines)
    assert secret not in json.dumps(fake.requests)
    assert "REDACTED" in fake.prompts[0]


def test_pipeline_enrich_uses_the_explainer() -> None:
    from agent.models import JobContext
    from agent.pipeline import enrich

    fake = FakeOpenAI(answer())
    with explainer(fake) as ex:
        result: Diagnosis = enrich(diagnosis(), job=JobContext(), log_lines=LOG, explainer=ex)
    assert result.llm is not None and result.llm.verified
