"""Token cost from a configurable price table (USD per million tokens).

Prices change and differ per contract, so CI Medic ships none: `CIMEDIC_LLM_PRICES` sets them, keyed by the
full chain entry (`openai:gpt-4.1-mini`) or the bare model name. A model without a price costs 0 and is
reported as unpriced, so a budget in USD only limits priced models; call-count budgets
(`CIMEDIC_LLM_CALLS_PER_DAY`) limit every model.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.llm.options import ModelSpec, Price


class PriceTable:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {k.strip().lower(): v for k, v in prices.items()}

    def price(self, spec: ModelSpec) -> Price | None:
        for key in (spec.label.lower(), spec.target.lower(), spec.target.rpartition("#")[2].lower()):
            if key in self._prices:
                return self._prices[key]
        return None

    def cost(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.price(spec)
        if price is None:
            return 0.0
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000
