"""The analysis engine: log bytes in, `Diagnosis` out. Deterministic, no network, no LLM.

`analyze_stream` is the one code path; `analyze` (text or bytes in memory) and `analyze_file` (a path,
streamed in blocks so a 1 GB log stays in bounded memory) feed it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from agent.catalog import Catalog, default_catalog
from agent.errors import CimedicError
from agent.facts import build_facts
from agent.fingerprint import fingerprint
from agent.localize import Localized, localize
from agent.logtext import clean_line, mask_volatile
from agent.models import Category, Diagnosis, JobContext, LogLine, Remediation
from agent.redact import Redactor
from agent.scan import Scanner, ScanResult, iter_text_lines
from agent.signals import default_calibration, default_signals

READ_SIZE = 1 << 20
MAX_BASELINE_LINES = 2_000_000
MAX_TITLE = 200
RULE_BASE = 2.0  # a catalog rule names a known error: worth as much as a strong keyword
RULE_SPECIFICITY = 4.0
# Share of right categories among answers made without a rule on the development folds and tools
# (`bench/crossval.py`, 2026-12-06: 0.63 of 41 with every rule, 0.77 of 320 with the tools' rules removed).
FALLBACK_CONFIDENCE = 0.6


class InputError(CimedicError):
    """The input cannot be analyzed (missing, unreadable); the message says why in one line."""


def _read_blocks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while block := handle.read(READ_SIZE):
                yield block
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


def _as_blocks(data: str | bytes) -> list[bytes]:
    return [data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data]


def baseline_set(chunks: Iterable[bytes]) -> frozenset[str]:
    """Masked lines of a passing log of the same job (bounded: at most MAX_BASELINE_LINES distinct)."""
    seen: set[str] = set()
    for raw in iter_text_lines(chunks):
        text = clean_line(raw).text
        if text.strip():
            seen.add(mask_volatile(text))
            if len(seen) >= MAX_BASELINE_LINES:
                break
    return frozenset(seen)


@functools.cache
def _rule_of_for(catalog: Catalog) -> functools._lru_cache_wrapper[str | None]:
    @functools.lru_cache(maxsize=4096)
    def rule_of(text: str) -> str | None:
        hit = catalog.match_line(text)
        return None if hit is None else hit.rule.id

    return rule_of


@functools.cache
def _rule_bonus_for(catalog: Catalog) -> functools._lru_cache_wrapper[float]:
    @functools.lru_cache(maxsize=4096)
    def bonus(text: str) -> float:
        hit = catalog.match_line(text)
        return 0.0 if hit is None else RULE_BASE + RULE_SPECIFICITY * hit.rule.specificity

    return bonus


@functools.cache
def _names_cause_for(catalog: Catalog) -> functools._lru_cache_wrapper[bool]:
    """Whether the line's rule reads a cause off an exit report (the line says more than "it failed")."""

    @functools.lru_cache(maxsize=4096)
    def names_cause(text: str) -> bool:
        hit = catalog.match_line(text)
        return hit is not None and hit.rule.exit_cause

    return names_cause


def _last_command(result: ScanResult, before: int) -> str | None:
    commands = [s.name for s in result.steps if s.prompt and s.line <= before]
    return commands[-1] if commands else None


def analyze_stream(
    chunks: Iterable[bytes],
    *,
    source: str,
    baseline: Iterable[bytes] | None = None,
    context: JobContext | None = None,
    secrets: Sequence[str] = (),
    catalog: Catalog | None = None,
) -> Diagnosis:
    """Analyze a log given as byte blocks (any split; line breaks may straddle blocks)."""
    del context  # the engine's result does not depend on where the log came from
    catalog = catalog or default_catalog()
    known = baseline_set(baseline) if baseline is not None else None
    bonus = _rule_bonus_for(catalog)
    scanner = Scanner(every_line=known is not None, rule_bonus=bonus, rule_digit_gate=catalog.digit_gate)
    for chunk in chunks:
        scanner.feed(chunk)
    result = scanner.finish()
    redactor = Redactor(secrets)
    if result.binary:
        return _unknown(source, "binary input: this does not look like a text log", redactor)
    if result.total_lines == 0:
        return _unknown(source, "empty log", redactor)
    signals = default_signals()
    found = localize(
        result,
        signal_score=signals.score,
        rule_bonus=bonus,
        rule_of=_rule_of_for(catalog),
        baseline=known,
        section_weight=signals.section_weight,
        section_indented=signals.section_indented,
        verdict_weight=signals.verdict_weight,
        names_cause=_names_cause_for(catalog),
        stops=signals.stops,
    )
    return _diagnose(source, result, found, catalog, redactor)


def _diagnose(
    source: str, result: ScanResult, found: Localized, catalog: Catalog, redactor: Redactor
) -> Diagnosis:
    focus = [LogLine(line=n, text=redactor.redact(t)) for n, t in found.focus]
    excerpt = [LogLine(line=n, text=redactor.redact(t)) for n, t in found.excerpt]
    # The exit statement left out of the excerpt still names what failed (`make: *** [test] Error 1`).
    closing = (
        []
        if found.closing is None
        else [LogLine(line=found.closing[0], text=redactor.redact(found.closing[1]))]
    )
    candidate_texts = [c.clean.text for c in result.candidates]
    facts = build_facts(
        step=found.step,
        exit_mark=found.exit,
        test_lines=[*(t for _, t in found.excerpt), *candidate_texts],
        location_lines=[(t, found.params.get(n, "")) for n, t in found.excerpt],
        last_command=_last_command(result, found.excerpt[0][0] if found.excerpt else result.total_lines),
    )
    # Focus leads with the anchor (the line that states the error); rules weigh ties in log order.
    classification = catalog.classify(
        sorted(focus, key=lambda ln: ln.line), [*excerpt, *closing], command=facts.command
    )
    hit = classification.hit
    if hit is not None:
        title = redactor.redact(hit.title)
        remediation = hit.remediation()
        rule = hit.rule.id
    else:
        title = _strip_command(focus[0].text).strip() if focus else "no failure found in the log"
        remediation = Remediation()
        rule = None
    title = title[:MAX_TITLE]
    category = classification.category
    localized_conf = min(1.0, max(found.anchor_score, 0.0) / 8.0)
    raw = 0.5 * localized_conf + 0.5 * classification.confidence
    if category is Category.UNKNOWN:
        # `unknown` claims no category: nothing to calibrate, and never more than a weak answer.
        confidence = round(min(raw, 0.3), 2)
    elif hit is None:
        # No rule named the error; the lines' words and the failing command chose the category. Those
        # answers are right less often than the calibration's rule-made ones (docs/benchmarks.md), so they
        # never claim more than that, and render as "category uncertain".
        confidence = round(min(default_calibration().apply(raw, category.value), FALLBACK_CONFIDENCE), 2)
    else:
        # Calibrated (agent/signals/calibration.yaml): a confidence of 0.8 means about 80% of the
        # diagnoses given it had the right category, on cases not used to write the rules.
        confidence = round(default_calibration().apply(raw, category.value), 2)
    facts = facts.model_copy(
        update={
            "command": redactor.redact(facts.command) if facts.command else None,
            "failed_tests": [redactor.redact(t) for t in facts.failed_tests],
        }
    )
    return Diagnosis(
        source=source,
        category=category,
        confidence=confidence,
        title=title,
        focus=focus,
        excerpt=excerpt,
        fingerprint=fingerprint(
            rule, category.value, (f.text for f in sorted(focus, key=lambda ln: ln.line))
        ),
        facts=facts,
        rule=rule,
        remediation=remediation,
    )


def _strip_command(text: str) -> str:
    """A title names the error, not the workflow command that carried it (`##[error]`)."""
    return text.split("]", 1)[1] if text.startswith("##[") and "]" in text else text


def _unknown(source: str, title: str, redactor: Redactor) -> Diagnosis:
    del redactor
    return Diagnosis(
        source=source,
        category=Category.UNKNOWN,
        confidence=0.0,
        title=title,
        focus=[],
        excerpt=[],
        fingerprint=fingerprint(None, Category.UNKNOWN.value, [title]),
    )


def analyze(
    log: str | bytes,
    *,
    source: str = "-",
    baseline: str | bytes | None = None,
    context: JobContext | None = None,
    secrets: Sequence[str] = (),
) -> Diagnosis:
    """Analyze a log held in memory."""
    return analyze_stream(
        _as_blocks(log),
        source=source,
        baseline=_as_blocks(baseline) if baseline is not None else None,
        context=context,
        secrets=secrets,
    )


def analyze_file(
    path: str | Path,
    *,
    source: str | None = None,
    baseline: str | Path | None = None,
    context: JobContext | None = None,
    secrets: Sequence[str] = (),
    catalog: Catalog | None = None,
) -> Diagnosis:
    """Analyze a log file, streamed in blocks (bounded memory whatever its size)."""
    log_path = Path(path)
    if not log_path.exists():
        raise InputError(f"{log_path}: no such file")
    base = _read_blocks(Path(baseline)) if baseline is not None else None
    if baseline is not None and not Path(baseline).exists():
        raise InputError(f"{baseline}: no such file (baseline)")
    return analyze_stream(
        _read_blocks(log_path),
        source=str(path) if source is None else source,
        baseline=base,
        context=context,
        secrets=secrets,
        catalog=catalog,
    )
