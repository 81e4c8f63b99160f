"""`LlmExplainer`: the `agent.ports.Explainer` that asks a chain of models and never does worse than none.

Order of events for one `explain()`:
1. a known fix for this exact fingerprint (knowledge base, `diagnosis.similar`) -> no call at all;
2. the prompt is built: cleaned, redacted, trimmed to the token budget (`agent.llm.prompt`);
3. per model in the chain: a cached answer for (fingerprint, model, prompt version) is reused;
   otherwise, unless a daily budget is spent or the endpoint's circuit breaker is open, the model is asked,
   with a per-attempt timeout and bounded retries with backoff on transient errors;
4. the answer is sanitized (`agent.llm.sanitize`) and its evidence verified against the log
   (`agent.llm.verify`); an answer without verified evidence comes back with `verified=False`, and callers
   keep the deterministic diagnosis as the answer;
5. any failure moves on to the next model; when none answers, `explain()` returns None.
Nothing here raises to the caller: the LLM is optional, the deterministic diagnosis always stands.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx2
from pydantic import ValidationError
from pydantic_ai import Agent, NativeOutput, capture_run_messages
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, create_async_httpx2_client
from pydantic_ai.settings import ModelSettings

from agent.llm.answer import LlmAnswer
from agent.llm.cost import PriceTable
from agent.llm.options import LlmOptions, ModelSpec
from agent.llm.prompt import SYSTEM, LogView, Prompt, build_prompt
from agent.llm.resilience import CircuitBreaker, RetryPolicy, is_transient
from agent.llm.sanitize import (
    MAX_SUMMARY,
    MAX_TEXT,
    SanitizeReport,
    clean_commands,
    clean_markdown,
    clean_patch,
)
from agent.llm.store import LlmStore
from agent.llm.verify import verify_evidence
from agent.models import Diagnosis, LlmExplanation
from agent.ports import ChangeContext
from agent.redact import Redactor

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class ChainEntry:
    """One model of the chain: how to build it on a shared HTTP client, and which endpoint it belongs to."""

    spec: ModelSpec
    build: Callable[[httpx2.AsyncClient], Model]
    endpoint: str
    display: str = ""

    @property
    def name(self) -> str:
        return self.display or self.spec.label


@dataclass
class Attempt:
    model: str
    status: str  # ok | cached | breaker-open | budget | error | invalid | unverified
    detail: str = ""
    latency: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Outcome:
    """What the last `explain()` did (for the CLI, the bench and the audit log)."""

    status: str = "none"  # ok | unverified | cached | known-resolution | budget | failed | skipped
    model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    prompt_tokens_estimated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cited: int = 0
    verified_lines: int = 0
    dropped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    trimmed: list[str] = field(default_factory=list)
    latency: float = 0.0


class _Budget(Exception):
    pass


class _Core:
    """State shared by an explainer and its repo-bound copies: loop, clients, models, breakers, store."""

    def __init__(
        self,
        chain: Sequence[ChainEntry],
        options: LlmOptions,
        store: LlmStore,
        prices: PriceTable,
        redactor: Redactor,
        transport: httpx2.AsyncBaseTransport | None,
        sleep: Sleep | None,
        clock: Callable[[], float],
    ) -> None:
        from agent.llm.runner import LoopThread

        self.chain = list(chain)
        self.options = options
        self.store = store
        self.prices = prices
        self.redactor = redactor
        self.transport = transport
        self.sleep: Sleep = sleep or asyncio.sleep
        self.clock = clock
        self.loop = LoopThread()
        self.clients: dict[str, httpx2.AsyncClient] = {}
        self.models: dict[str, Model] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self.lock = threading.Lock()
        self.policy = RetryPolicy(options.retries, options.backoff, options.backoff_max)
        # One corrective retry on an invalid answer (pydantic-ai sends the validation error back), no more:
        # a model that fails twice will not do better on the third try, and each try costs tokens.
        self.native_agent: Agent[None, LlmAnswer] = Agent(
            output_type=NativeOutput(LlmAnswer), instructions=SYSTEM, retries={"output": 1}
        )
        self.tool_agent: Agent[None, LlmAnswer] = Agent(
            output_type=LlmAnswer, instructions=SYSTEM, retries={"output": 1}
        )
        self.closed = False

    def breaker(self, endpoint: str) -> CircuitBreaker:
        with self.lock:
            if endpoint not in self.breakers:
                self.breakers[endpoint] = CircuitBreaker(
                    self.options.breaker_failures, self.options.breaker_cooldown, self.clock
                )
            return self.breakers[endpoint]

    def model(self, entry: ChainEntry) -> Model:
        """Built once per entry, on the endpoint's one HTTP client (runs on the loop thread)."""
        if entry.spec.label not in self.models:
            client = self.clients.get(entry.endpoint)
            if client is None:
                timeout = httpx2.Timeout(self.options.timeout, connect=min(10.0, self.options.timeout))
                client = create_async_httpx2_client(timeout=timeout, transport=self.transport)
                self.clients[entry.endpoint] = client
            self.models[entry.spec.label] = entry.build(client)
        return self.models[entry.spec.label]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()
        self.models.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.run(self.aclose(), timeout=5)
        except Exception as exc:  # closing must not fail the caller
            log.debug("closing LLM clients: %s", exc)
        self.loop.close()
        self.store.close()


def _usage(messages: Sequence[ModelMessage]) -> tuple[int, int]:
    prompt = completion = 0
    for message in messages:
        if isinstance(message, ModelResponse):
            prompt += message.usage.input_tokens
            completion += message.usage.output_tokens
    return prompt, completion


class LlmExplainer:
    """Implements `agent.ports.Explainer`. Thread-safe; call `close()` (or use it as a context manager)."""

    def __init__(
        self,
        chain: Sequence[ChainEntry],
        *,
        options: LlmOptions | None = None,
        store: LlmStore | None = None,
        prices: PriceTable | None = None,
        redactor: Redactor | None = None,
        repo: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.monotonic,
        _core: _Core | None = None,
    ) -> None:
        if _core is None:
            opts = options or LlmOptions()
            _core = _Core(
                chain,
                opts,
                store or LlmStore(None),
                prices or PriceTable(opts.prices),
                redactor or Redactor(),
                transport,
                sleep,
                clock,
            )
        self._core = _core
        self.repo = repo
        self._local = threading.local()

    # ------------------------------------------------------------------------------------------ public
    @property
    def chain(self) -> list[ChainEntry]:
        return self._core.chain

    @property
    def options(self) -> LlmOptions:
        return self._core.options

    @property
    def last_outcome(self) -> Outcome:
        """The outcome of this thread's last `explain()`."""
        outcome: Outcome = getattr(self._local, "outcome", Outcome())
        return outcome

    def bind(self, repo: str | None) -> LlmExplainer:
        """The same explainer (clients, breakers, cache) charging a repository's budget."""
        return LlmExplainer((), repo=repo, _core=self._core)

    def breaker_state(self, endpoint: str) -> str:
        return self._core.breaker(endpoint).state

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> LlmExplainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def explain(
        self,
        diagnosis: Diagnosis,
        log_lines: Sequence[str],
        *,
        change: ChangeContext | None = None,
    ) -> LlmExplanation | None:
        outcome = Outcome()
        self._local.outcome = outcome
        started = time.monotonic()
        try:
            if self._core.closed:
                outcome.status = "skipped"
                return None
            known = next((s for s in diagnosis.similar if s.exact and s.resolution), None)
            if known is not None:
                outcome.status = "known-resolution"
                return None
            prompt = build_prompt(
                diagnosis,
                log_lines,
                redactor=self._core.redactor,
                change=change,
                max_tokens=self._core.options.max_prompt_tokens,
            )
            outcome.prompt_tokens_estimated = prompt.estimated_tokens
            outcome.trimmed = list(prompt.trimmed)
            view = LogView(log_lines, self._core.redactor)
            deadline = self._core.options.deadline
            return self._core.loop.run(self._run(diagnosis, prompt, view, outcome), timeout=deadline + 5)
        except Exception as exc:  # the LLM is optional: never fail the analysis
            log.warning("LLM explanation failed: %s", exc)
            if outcome.status in ("none", "ok"):
                outcome.status = "failed"
            return None
        finally:
            outcome.latency = time.monotonic() - started

    # ------------------------------------------------------------------------------------------ core
    async def _run(
        self, diagnosis: Diagnosis, prompt: Prompt, view: LogView, outcome: Outcome
    ) -> LlmExplanation | None:
        core = self._core
        ends = time.monotonic() + core.options.deadline
        best_unverified: LlmExplanation | None = None
        for entry in core.chain:
            cached = self._cached(entry, diagnosis, prompt, view, outcome)
            if cached is not None:
                outcome.status = "cached"
                outcome.model = entry.name
                return cached
            breaker = core.breaker(entry.endpoint)
            if not breaker.allow():
                outcome.attempts.append(Attempt(entry.name, "breaker-open", entry.endpoint))
                continue
            try:
                self._check_budget(entry, prompt)
            except _Budget as exc:
                outcome.attempts.append(Attempt(entry.name, "budget", str(exc)))
                outcome.status = "budget"
                # A spent global budget stops every model; a priced model's budget may leave a free local one.
                continue
            remaining = ends - time.monotonic()
            if remaining <= 1:
                outcome.attempts.append(Attempt(entry.name, "error", "deadline reached"))
                break
            answer = await self._ask(entry, prompt, breaker, remaining, outcome)
            if answer is None:
                continue
            explanation = self._finish(entry, answer, view, prompt, outcome, relocate=False)
            if explanation is None:
                continue
            if explanation.verified:
                if core.options.cache:
                    core.store.put_answer(
                        diagnosis.fingerprint, entry.spec.label, prompt.version, answer.model_dump_json()
                    )
                outcome.status = "ok"
                outcome.model = entry.name
                return explanation
            outcome.attempts[-1].status = "unverified"
            best_unverified = best_unverified or explanation
        if best_unverified is not None:
            outcome.status = "unverified"
            outcome.model = best_unverified.model
            return best_unverified
        if outcome.status != "budget":
            outcome.status = "failed"
        return None

    def _cached(
        self, entry: ChainEntry, diagnosis: Diagnosis, prompt: Prompt, view: LogView, outcome: Outcome
    ) -> LlmExplanation | None:
        core = self._core
        if not core.options.cache:
            return None
        raw = core.store.get_answer(
            diagnosis.fingerprint, entry.spec.label, prompt.version, core.options.cache_days
        )
        if raw is None:
            return None
        try:
            answer = LlmAnswer.model_validate_json(raw)
        except ValidationError:
            return None
        probe = Outcome()
        explanation = self._finish(entry, answer, view, prompt, probe, relocate=True, tokens=(0, 0))
        if explanation is None or not explanation.verified:
            return None  # the same failure, but this log does not bear the old answer out: ask again
        outcome.cited, outcome.verified_lines = probe.cited, probe.verified_lines
        outcome.dropped, outcome.removed = probe.dropped, probe.removed
        outcome.attempts.append(Attempt(entry.name, "cached"))
        return explanation

    def _check_budget(self, entry: ChainEntry, prompt: Prompt) -> None:
        core = self._core
        opts = core.options
        price = core.prices.price(entry.spec)
        estimate = 0.0
        if price is not None:
            estimate = (
                prompt.estimated_tokens * price.input + opts.max_output_tokens * price.output
            ) / 1_000_000
        scopes: list[tuple[str, str | None, float | None, int | None]] = [
            ("global", None, opts.budget_usd, opts.calls_per_day)
        ]
        scopes.append(
            (f"repo {self.repo or '-'}", self.repo or "-", opts.budget_usd_repo, opts.calls_per_day_repo)
        )
        for name, repo, usd, calls in scopes:
            if usd is None and calls is None:
                continue
            spent = core.store.spent(repo=repo)
            if calls is not None and spent.calls >= calls:
                raise _Budget(f"{name} daily call budget spent ({spent.calls}/{calls})")
            if usd is not None and spent.cost_usd + estimate > usd:
                raise _Budget(f"{name} daily budget spent (${spent.cost_usd:.4f} of ${usd:.4f})")

    def _settings(self, remaining: float) -> ModelSettings:
        opts = self._core.options
        timeout = min(opts.timeout, remaining)
        return ModelSettings(
            timeout=timeout,
            request_timeout=timeout,
            max_retries=0,  # retries are ours (bounded, with backoff and the breaker), not the SDK's
            temperature=opts.temperature,
            max_tokens=opts.max_output_tokens,
        )

    async def _ask(
        self, entry: ChainEntry, prompt: Prompt, breaker: CircuitBreaker, remaining: float, outcome: Outcome
    ) -> LlmAnswer | None:
        core = self._core
        ends = time.monotonic() + remaining
        try:
            model = core.model(entry)
        except Exception as exc:  # missing key, bad URL: a configuration problem of this entry only
            outcome.attempts.append(Attempt(entry.name, "error", f"cannot build model: {exc}"))
            return None
        native = bool(model.profile.get("supports_json_schema_output"))
        agent = core.native_agent if native else core.tool_agent
        attempt_no = 0
        while True:
            left = ends - time.monotonic()
            attempt = Attempt(entry.name, "error")
            outcome.attempts.append(attempt)
            t0 = time.monotonic()
            messages: list[ModelMessage] = []
            error: BaseException | None = None
            answer: LlmAnswer | None = None
            try:
                with capture_run_messages() as messages:
                    result = await asyncio.wait_for(
                        agent.run(
                            prompt.user,
                            model=model,
                            model_settings=self._settings(left),
                        ),
                        timeout=max(left, 0.1),
                    )
                answer = result.output
            except Exception as exc:
                error = exc
            attempt.latency = time.monotonic() - t0
            p_tok, c_tok = _usage(messages)
            attempt.prompt_tokens, attempt.completion_tokens = p_tok, c_tok
            if p_tok or c_tok or answer is not None:
                cost = core.prices.cost(entry.spec, p_tok, c_tok)
                core.store.add_spend(self.repo or "-", p_tok, c_tok, cost)
                outcome.prompt_tokens += p_tok
                outcome.completion_tokens += c_tok
                outcome.cost_usd += cost
            if answer is not None:
                breaker.success()
                attempt.status = "ok"
                return answer
            assert error is not None
            attempt.detail = f"{type(error).__name__}: {str(error)[:300]}"
            transient = is_transient(error) or isinstance(error, TimeoutError)
            if not transient:
                # The provider answered but the answer was unusable (malformed JSON, schema violations after
                # one corrective retry) or the request was refused: this model cannot help, try the next.
                attempt.status = "invalid" if not _is_api_error(error) else "error"
                if _is_api_error(error):
                    breaker.failure()
                return None
            breaker.failure()
            if attempt_no >= core.policy.retries or not breaker.allow():
                return None
            delay = core.policy.delay(attempt_no, error)
            if time.monotonic() + delay + 1 >= ends:
                return None
            attempt_no += 1
            await core.sleep(delay)

    def _finish(
        self,
        entry: ChainEntry,
        answer: LlmAnswer,
        view: LogView,
        prompt: Prompt,
        outcome: Outcome,
        *,
        relocate: bool,
        tokens: tuple[int, int] | None = None,
    ) -> LlmExplanation | None:
        opts = self._core.options
        report = SanitizeReport()
        allow = opts.link_allowlist
        check = verify_evidence(answer.evidence, view, shown=prompt.shown, relocate=relocate)
        summary = clean_markdown(answer.summary, allowlist=allow, limit=MAX_SUMMARY, report=report)
        summary = " ".join(summary.split())
        root = clean_markdown(answer.root_cause, allowlist=allow, limit=MAX_TEXT, report=report)
        if not summary or not root:
            outcome.attempts.append(Attempt(entry.name, "invalid", "empty summary or root cause"))
            return None
        reason = clean_markdown(
            answer.caused_by_change_reason, allowlist=allow, limit=MAX_TEXT, report=report
        )
        fix = clean_markdown(answer.fix, allowlist=allow, limit=MAX_TEXT, report=report)
        patch = clean_patch(answer.patch, protected_paths=opts.protected_paths, report=report)
        commands = clean_commands(answer.commands, allowlist=allow, report=report)
        outcome.cited, outcome.verified_lines = check.cited, len(check.evidence)
        outcome.dropped, outcome.removed = check.dropped, report.removed
        p_tok, c_tok = tokens if tokens is not None else (outcome.prompt_tokens, outcome.completion_tokens)
        return LlmExplanation(
            model=entry.name,
            summary=summary,
            root_cause=root,
            category=answer.category,
            confidence=answer.confidence,
            evidence=check.evidence,
            caused_by_change=answer.caused_by_change,
            caused_by_change_reason=reason or None,
            fix=fix or None,
            patch=patch,
            commands=commands,
            verified=check.verified,
            prompt_tokens=p_tok,
            completion_tokens=c_tok,
            cost_usd=round(outcome.cost_usd if tokens is None else 0.0, 6),
        )

    # ------------------------------------------------------------------------------------------ check
    def unusable(self) -> dict[str, str]:
        """Entries of the chain that cannot work as configured (an API key not set...), with the reason in
        a user's words. Building a model sends no request, so this costs no time on the network."""
        return self._core.loop.run(self._unusable(), timeout=30)

    async def _unusable(self) -> dict[str, str]:
        reasons: dict[str, str] = {}
        for entry in self._core.chain:
            try:
                self._core.model(entry)
            except Exception as exc:
                reasons[entry.name] = setup_problem(entry, exc)
        return reasons

    def check(self, timeout: float = 30.0) -> list[CheckResult]:
        """Ask every model of the chain for a one-word answer; say which answer and how fast."""
        return self._core.loop.run(self._check_all(timeout), timeout=timeout * len(self._core.chain) + 10)

    async def _check_all(self, timeout: float) -> list[CheckResult]:
        results: list[CheckResult] = []
        agent: Agent[None, str] = Agent(output_type=str)
        for entry in self._core.chain:
            t0 = time.monotonic()
            try:
                model = self._core.model(entry)
            except Exception as exc:
                results.append(CheckResult(entry.name, False, 0.0, setup_problem(entry, exc)))
                continue
            try:
                settings = ModelSettings(
                    timeout=timeout, request_timeout=timeout, max_retries=0, max_tokens=8
                )
                result = await asyncio.wait_for(
                    agent.run("Reply with the single word OK.", model=model, model_settings=settings), timeout
                )
                text = result.output.strip()[:40]
                results.append(CheckResult(entry.name, True, time.monotonic() - t0, f"answered {text!r}"))
            except Exception as exc:
                results.append(CheckResult(entry.name, False, time.monotonic() - t0, _describe(exc)))
        return results


@dataclass(frozen=True)
class CheckResult:
    model: str
    ok: bool
    latency: float
    detail: str


def _is_api_error(exc: BaseException) -> bool:
    from pydantic_ai.exceptions import ModelAPIError

    return isinstance(exc, ModelAPIError)


def setup_problem(entry: ChainEntry, exc: BaseException) -> str:
    """Why a model could not even be built, worded for a CI Medic user rather than a library user.

    The providers' own messages address programmers (pydantic-ai's missing-key error suggests
    `OpenAIProvider(api_key=...)` and "the built-in test model: `Agent('test')`"); the variables a provider
    reads (`ProviderPlugin.needs`) are what a user can act on.
    """
    from agent.llm import registry

    try:
        plugin: registry.ProviderPlugin | None = registry.get(entry.spec.prefix)
    except KeyError:
        plugin = None
    if isinstance(exc, ImportError) and plugin is not None and plugin.sdk_extra:
        # pydantic-ai raises ImportError ("Please install `openai` ...") when the provider's SDK is missing.
        return f"its SDK is not installed: pip install 'cimedic[{plugin.sdk_extra}]'"
    needs = plugin.needs if plugin is not None else ()
    unset = [name for name in needs if not os.environ.get(name)]
    text = " ".join(str(exc).split())
    if unset and any(word in text.lower() for word in ("api key", "api_key", "base_url", "environment")):
        names = " and ".join(unset)
        return f"{names} {'is' if len(unset) == 1 else 'are'} not set"
    first = text.split(". ")[0].rstrip(".")
    return f"cannot be set up: {first[:200]}" if first else f"cannot be set up ({type(exc).__name__})"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"
