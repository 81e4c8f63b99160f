"""Evidence verification: a cited line counts only if it exists in the log and says what the model quotes.

This is the rule PyTorch's log classifier applies to its LLM refinement (test-infra
`aws/lambda/log-classifier`): an answer counts only if the line it cites exists verbatim. Quotes are compared
with runs of whitespace collapsed, against the text the model was shown (cleaned and redacted; see
`agent.llm.prompt.LogView`). A citation without a quote is accepted only for a line the model was shown,
so a model cannot cite a line number it never saw.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from agent.llm.answer import Citation
from agent.llm.prompt import LogView
from agent.models import LogLine

MAX_EVIDENCE = 8
_WS = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass
class Verification:
    evidence: list[LogLine] = field(default_factory=list)
    cited: int = 0
    dropped: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.evidence)


def _quote_at(view: LogView, number: int, quote: str) -> bool:
    text = view.text(number)
    return text is not None and quote in _squash(text)


def verify_evidence(
    citations: Sequence[Citation], view: LogView, *, shown: Collection[int], relocate: bool = False
) -> Verification:
    """Keep the citations that check out. `relocate` (cached answers, whose line numbers come from an
    earlier run of the same failure) moves a quote to the nearest line that holds it."""
    result = Verification(cited=len(citations))
    seen: set[int] = set()
    for cite in citations:
        quote = _squash(cite.quote.strip().strip("`\"'"))
        number = cite.line
        if quote:
            if not _quote_at(view, number, quote):
                found = None
                if relocate:
                    candidates = [n for n in range(1, len(view) + 1) if _quote_at(view, n, quote)]
                    found = min(candidates, key=lambda n: abs(n - number)) if candidates else None
                if found is None:
                    why = "no such line" if view.text(number) is None else "quote not on that line"
                    result.dropped.append(f"line {number}: {why}")
                    continue
                number = found
        else:
            if view.text(number) is None:
                result.dropped.append(f"line {number}: no such line")
                continue
            if number not in shown:
                result.dropped.append(f"line {number}: not shown to the model and no quote")
                continue
        if number in seen:
            continue
        seen.add(number)
        result.evidence.append(LogLine(line=number, text=view.text(number) or ""))
        if len(result.evidence) == MAX_EVIDENCE:
            break
    result.evidence.sort(key=lambda ln: ln.line)
    return result
