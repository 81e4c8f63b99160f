"""Helpers for the LLM tests: a sample failure, canned OpenAI-style replies, an explainer on a fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx2

from agent.llm import ChainEntry, LlmExplainer, LlmOptions, ModelSpec
from agent.llm.providers.openai import _build_compatible
from agent.llm.store import LlmStore
from agent.models import Category, Diagnosis, Facts, LogLine, SimilarFailure

LOG = [
    "Run pytest -q",  # 1
    "============================= test session starts ==============================",  # 2
    "collected 12 items",  # 3
    "",  # 4
    "tests/test_math.py ....F.......                                          [100%]",  # 5
    "",  # 6
    "=================================== FAILURES ===================================",  # 7
    "________________________________ test_divide _________________________________",  # 8
    "    def test_divide():",  # 9
    ">       assert divide(1, 0) == 0",  # 10
    "E       ZeroDivisionError: division by zero",  # 11
    "",  # 12
    "src/calc.py:7: ZeroDivisionError",  # 13
    "=========================== short test summary info ============================",  # 14
    "FAILED tests/test_math.py::test_divide - ZeroDivisionError: division by zero",  # 15
    "1 failed, 11 passed in 0.12s",  # 16
    "Error: Process completed with exit code 1.",  # 17
]


def diagnosis(lines: Sequence[str] = LOG, **update: Any) -> Diagnosis:
    base = Diagnosis(
        source="test.log",
        category=Category.TEST,
        confidence=0.9,
        title="ZeroDivisionError: division by zero",
        focus=[LogLine(line=11, text=lines[10] if len(lines) > 10 else "x")],
        excerpt=[LogLine(line=n, text=lines[n - 1]) for n in range(7, min(18, len(lines) + 1))],
        fingerprint="fp-zero-division",
        facts=Facts(step="Run pytest -q", exit_code=1, failed_tests=["tests/test_math.py::test_divide"]),
        rule="pytest-failure",
    )
    return base.model_copy(update=update)


def known_fix() -> SimilarFailure:
    return SimilarFailure(
        fingerprint="fp-zero-division",
        similarity=1.0,
        exact=True,
        title="ZeroDivisionError: division by zero",
        category=Category.TEST,
        occurrences=3,
        resolution="guard divide() against b == 0 (commit abc123)",
    )


def answer(**update: Any) -> dict[str, Any]:
    """A well-formed model answer; `update` overrides fields."""
    data: dict[str, Any] = {
        "summary": "test_divide fails because divide(1, 0) raises ZeroDivisionError.",
        "root_cause": "divide() in src/calc.py does not handle a zero divisor.",
        "category": "test",
        "confidence": "high",
        "evidence": [
            {"line": 11, "quote": "ZeroDivisionError: division by zero"},
            {"line": 13, "quote": "src/calc.py:7"},
        ],
        "caused_by_change": "unknown",
        "caused_by_change_reason": "",
        "fix": "Return 0 (or raise a clear error) when the divisor is zero.",
        "patch": "",
        "commands": ["pytest -q tests/test_math.py::test_divide"],
    }
    data.update(update)
    return data


def completion(content: str, *, prompt_tokens: int = 900, completion_tokens: int = 120) -> dict[str, Any]:
    """An OpenAI Chat Completions response body (https://platform.openai.com/docs/api-reference/chat/object)."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


Reply = httpx2.Response | Callable[[], httpx2.Response] | float | str | dict[str, Any]


class FakeOpenAI:
    """A scripted OpenAI-compatible server as an httpx2 `MockTransport` (no socket, no network).

    Each request takes the next reply: a dict (an answer, sent as JSON content), a str (raw content), an
    `httpx2.Response` (e.g. a 429), or a float (sleep that many seconds first: a hung server). The last reply
    repeats. Requests are recorded.
    """

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append(body)
        reply = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        if isinstance(reply, float | int) and not isinstance(reply, bool):
            await asyncio.sleep(float(reply))
            return httpx2.Response(200, json=completion(json.dumps(answer())))
        if callable(reply):
            return reply()
        if isinstance(reply, httpx2.Response):
            return httpx2.Response(reply.status_code, headers=reply.headers, content=reply.content)
        content = json.dumps(reply) if isinstance(reply, dict) else reply
        return httpx2.Response(200, json=completion(content))

    @property
    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    @property
    def prompts(self) -> list[str]:
        """The user messages sent, in order."""
        return [m["content"] for r in self.requests for m in r.get("messages", []) if m.get("role") == "user"]


def compatible_entry(name: str = "fake", url: str = "http://127.0.0.1:9/v1") -> ChainEntry:
    spec = ModelSpec("openai-compatible", f"{url}#{name}")
    return ChainEntry(
        spec, lambda http: _build_compatible(spec.target, http), f"compat@{url}", f"compatible:{name}"
    )


async def no_sleep(_delay: float) -> None:
    return None


def explainer(
    fake: FakeOpenAI,
    *,
    entries: Sequence[ChainEntry] | None = None,
    store: LlmStore | None = None,
    repo: str | None = "acme/app",
    **options: Any,
) -> LlmExplainer:
    opts = {"timeout": 5.0, "deadline": 20.0, "backoff": 0.0, **options}
    return LlmExplainer(
        entries or [compatible_entry()],
        options=LlmOptions(**opts),
        store=store or LlmStore(None),
        transport=fake.transport,
        sleep=no_sleep,
        repo=repo,
    )
