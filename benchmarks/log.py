"""Call log figures: write 100,000 records, then time `recent` with and without filters.

Run: python benchmarks/log.py [records]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from halion_nb.core.call_log import CallLog

TOOLS = [f"tool_{i}" for i in range(20)]
RUNS = 20


def _fill(log: CallLog, total: int) -> None:
    for i in range(total):
        r = i % 10
        if r < 6:
            tool = TOOLS[i % len(TOOLS)]
            log.record(
                "tool", name=tool, conversation_id=f"c{i // 50}",
                arguments={"city": "Lisbon", "n": i}, result={"temp": 21.5, "rows": [i, i + 1]},
                error="ValueError: bad n" if i % 97 == 0 else None, duration_ms=1.25,
            )
        elif r < 9:
            log.record(
                "model", name="gpt-4o-mini", conversation_id=f"c{i // 50}",
                duration_ms=420.0, prompt_tokens=310, completion_tokens=42,
            )
        else:
            log.record("step", name=TOOLS[i % len(TOOLS)], arguments={"x": i}, result=i * 2,
                       meta={"chain": "weather_report", "step": i % 4})


def _median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(total: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".halion" / "calls.sqlite"
        log = CallLog(path, redact=lambda s: s.replace("sk-secret", "***"))
        t0 = time.perf_counter()
        _fill(log, total)
        write_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in path.parent.iterdir()) / 1e6
        print(f"records written: {total} in {write_s:.2f} s "
              f"({write_s / total * 1e6:.1f} us each), files {size_mb:.1f} MB")
        assert len(log.recent(50, tool="tool_3")) == 50
        print(f"recent(50, tool=...): median {_median_ms(lambda: log.recent(50, tool='tool_3')):.2f} ms over {RUNS} runs")
        print(f"recent(50): median {_median_ms(lambda: log.recent(50)):.2f} ms over {RUNS} runs")
        print(f"recent(50, kind='model'): median {_median_ms(lambda: log.recent(50, kind='model')):.2f} ms over {RUNS} runs")
        print(f"recent(50, errors_only=True): median {_median_ms(lambda: log.recent(50, errors_only=True)):.2f} ms over {RUNS} runs")
        print(f"recent(50, offset=50_000): median {_median_ms(lambda: log.recent(50, offset=50_000)):.2f} ms over {RUNS} runs")
        print(f"recent(50, text='ValueError'): median {_median_ms(lambda: log.recent(50, text='ValueError')):.2f} ms over {RUNS} runs")
        print(f"recent(50, text='no such text') (full scan): median {_median_ms(lambda: log.recent(50, text='no such text')):.2f} ms over {RUNS} runs")
        print(f"count(): median {_median_ms(log.count):.2f} ms over {RUNS} runs")
        log.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
