"""End to end: a real llama.cpp server with Gemma 3 270M on 127.0.0.1, reached through the same
`openai-compatible:URL#model` path users configure, with structured output (response_format json_schema).

It checks plumbing and validation, not the model's wisdom: the request carries the JSON schema, the tiny
model's grammar-constrained answer parses into the schema, every evidence line that survives exists in the
log with its exact text, tokens are counted and the answer is sanitized. It never skips: without the server
binary or the model the test fails and says how to install them (`tests/llm_server.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx2
import pytest
from llm_server import ServerUnavailable, llama_server
from llm_support import LOG, diagnosis

from agent.llm import LlmExplainer, LlmOptions, build_chain
from agent.llm.prompt import clean_text

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


class Recording(httpx2.AsyncHTTPTransport):
    """The real transport, keeping a copy of each request body (to check what went over the wire)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, object]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content or b"{}"))
        return await super().handle_async_request(request)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    try:
        with llama_server() as url:
            yield url
    except ServerUnavailable as exc:
        pytest.fail(
            f"the end-to-end LLM test needs llama.cpp's server and Gemma 3 270M: {exc}", pytrace=False
        )


def test_llama_server_explains_with_structured_output(server_url: str) -> None:
    transport = Recording()
    chain = build_chain(f"openai-compatible:{server_url}#gemma3-270m")
    options = LlmOptions(timeout=600, deadline=900, retries=1, max_prompt_tokens=1500, max_output_tokens=512)
    with LlmExplainer(chain, options=options, transport=transport, repo="e2e/test") as ex:
        result = ex.explain(diagnosis(), LOG)
        outcome = ex.last_outcome

    # the request: chat completions with the answer's JSON schema, no tools, the log as numbered data
    body = transport.bodies[0]
    assert body["model"] == "gemma3-270m"
    response_format = body["response_format"]
    assert isinstance(response_format, dict) and response_format["type"] == "json_schema"
    assert "evidence" in json.dumps(response_format["json_schema"])
    assert not body.get("tools")
    assert "    11 | E       ZeroDivisionError: division by zero" in json.dumps(body["messages"])

    # the answer: validated against the schema, evidence verified, tokens counted
    assert outcome.attempts, outcome
    assert result is not None, f"no valid structured answer: {outcome}"
    assert result.model == "openai-compatible:gemma3-270m"
    assert result.summary and result.root_cause
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.cost_usd == 0.0  # no price configured for a local model
    for line in result.evidence:
        assert 1 <= line.line <= len(LOG)
        assert line.text == clean_text(LOG[line.line - 1])
    assert result.verified == bool(result.evidence)
    assert outcome.cited >= outcome.verified_lines
    # sanitized like any other answer
    for text in (result.summary, result.root_cause, result.fix or ""):
        assert not re.search(r"<[A-Za-z!/?@#]", text) and "](http" not in text


def test_llama_server_answers_llm_check(server_url: str) -> None:
    chain = build_chain(f"openai-compatible:{server_url}#gemma3-270m")
    with LlmExplainer(chain, options=LlmOptions(timeout=300)) as ex:
        results = ex.check(timeout=300)
    assert [r.ok for r in results] == [True], results
