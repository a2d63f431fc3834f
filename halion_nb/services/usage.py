"""Tokens, estimated cost and per-turn limits: a dated price table per model, `ws.limits`, and summaries of the log."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.call_log import CallLog

PRICES_AS_OF = "2025-08-07"
"""When the default prices were read from the providers' price pages; check yours and override (`ws.prices`)."""


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens, for the prompt (input) and the completion (output)."""

    input: float
    output: float
    as_of: str = PRICES_AS_OF

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.0), "gpt-5-mini": Price(0.25, 2.0), "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.0, 8.0), "gpt-4.1-mini": Price(0.40, 1.60), "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.0), "gpt-4o-mini": Price(0.15, 0.60),
    "o3": Price(2.0, 8.0), "o4-mini": Price(1.10, 4.40), "o3-mini": Price(1.10, 4.40),
}
"""OpenAI list prices (standard tier, uncached input) as of PRICES_AS_OF."""


class Prices(MutableMapping[str, Price]):
    """`ws.prices`: the price table; `ws.prices["my-model"] = (0.5, 1.5)` sets dollars per million in/out tokens.

    A model name with a dated suffix (`gpt-4.1-mini-2025-04-14`) or a provider prefix (`openai/gpt-4o`)
    takes the price of the longest known name it starts with; an unknown model has no estimate (None).
    """

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = dict(DEFAULT_PRICES if prices is None else prices)

    def __getitem__(self, model: str) -> Price:
        return self._prices[model]

    def __setitem__(self, model: str, price: Price | tuple[float, float]) -> None:
        if not isinstance(price, Price):
            given, taken = tuple(price), dt.date.today().isoformat()
            if len(given) != 2:
                raise ValueError("a price is (input, output) in US dollars per million tokens")
            price = Price(float(given[0]), float(given[1]), taken)
        self._prices[model] = price

    def __delitem__(self, model: str) -> None:
        del self._prices[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def find(self, model: str | None) -> Price | None:
        if not model:
            return None
        name = model.rsplit("/", 1)[-1]
        if name in self._prices:
            return self._prices[name]
        known = [k for k in self._prices if name.startswith(k + "-")]
        return self._prices[max(known, key=len)] if known else None

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Estimated US dollars, or None when the model has no price."""
        price = self.find(model)
        return None if price is None else price.cost(prompt_tokens or 0, completion_tokens or 0)

    def __repr__(self) -> str:
        return f"<Prices: {len(self)} models, $ per million tokens in/out; defaults as of {PRICES_AS_OF}>"


@dataclass
class Limits:
    """`ws.limits`: bounds for one chat turn; None is no bound. A turn that reaches one ends with `stopped_reason == "limit"`."""

    max_tokens: int | None = None
    """Prompt plus completion tokens over the turn's model rounds."""
    max_tool_calls: int | None = None
    max_cost: float | None = None
    """Estimated US dollars (needs the model's price in `ws.prices`)."""

    def reached(self, tokens: int, tool_calls: int, cost: float | None) -> str | None:
        """Which limit the turn has reached, in words, or None."""
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"the turn used {tokens} tokens, reaching ws.limits.max_tokens = {self.max_tokens}"
        if self.max_cost is not None and cost is not None and cost >= self.max_cost:
            return f"the turn cost about ${cost:.4f}, reaching ws.limits.max_cost = ${self.max_cost:g}"
        if self.max_tool_calls is not None and tool_calls >= self.max_tool_calls:
            return f"the turn made {tool_calls} tool call(s), reaching ws.limits.max_tool_calls = {self.max_tool_calls}"
        return None


@dataclass(frozen=True)
class UsageRow:
    """Model calls of one day and model, summed."""

    day: dt.date
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def model_rows(log: "CallLog", *, conversation_id: str | None = None, batch: int = 5000) -> Iterable[Any]:
    """Every model row of the log (newest first), paged."""
    offset = 0
    while True:
        rows = log.recent(batch, kind="model", conversation_id=conversation_id, offset=offset)
        yield from rows
        if len(rows) < batch:
            return
        offset += batch


def summarize(records: Iterable[Any], prices: Prices, *, since: dt.date | None = None) -> list[UsageRow]:
    """Model rows summed per day and model, newest day first (cost estimated with `prices`)."""
    sums: dict[tuple[dt.date, str], list[Any]] = {}
    for r in records:
        day = r.ts.astimezone().date() if r.ts.tzinfo else r.ts.date()
        if since is not None and day < since:
            continue
        s = sums.setdefault((day, r.name or "?"), [0, 0, 0, 0.0, True])
        prompt, completion = r.prompt_tokens or 0, r.completion_tokens or 0
        s[0] += 1
        s[1] += prompt
        s[2] += completion
        cost = prices.cost(r.name, prompt, completion)
        if cost is None:
            s[4] = False
        else:
            s[3] += cost
    return [UsageRow(day, model, s[0], s[1], s[2], s[3] if s[4] else None)
            for (day, model), s in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1]), reverse=True)]


def today_cost(log: "CallLog", prices: Prices) -> tuple[int, float | None]:
    """Tokens and estimated cost of today's model calls (summed by the database, per model)."""
    midnight = dt.datetime.combine(dt.date.today(), dt.time()).astimezone()
    tokens, cost, known = 0, 0.0, True
    for name, (prompt, completion) in log.token_totals(midnight).items():
        tokens += prompt + completion
        c = prices.cost(name, prompt, completion)
        known = known and c is not None
        cost += c or 0.0
    return tokens, cost if known else None
