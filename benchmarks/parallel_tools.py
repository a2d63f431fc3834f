"""Parallel tool calls: one model answer with 8 calls of a 200 ms tool, then the final answer.

Prints the median turn time (target ≤ 0.35 s; run one after another it would take 1.6 s).

Run: python benchmarks/parallel_tools.py [repetitions]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace

CALLS = 8


def lookup(key: str) -> str:
    """A slow lookup (200 ms of I/O).

    Args:
        key: what to look up
    """
    time.sleep(0.2)
    return f"value of {key}"


def main(reps: int = 10) -> None:
    script = [reply(tool_calls=[call("lookup", {"key": f"k{i}"}) for i in range(CALLS)]), reply("All 8 found.")]
    with FakeOpenAI() as server, tempfile.TemporaryDirectory() as folder:
        os.environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-bench-key")
        os.environ.pop("HALION_REPLAY", None)
        ws = Workspace(folder, model="gpt-bench")
        ws.tools.register(lookup)
        server.script(*script)
        ws.new_chat().send("warm up")
        times = []
        for _ in range(reps):
            server.script(*script)
            start = time.perf_counter()
            result = ws.new_chat().send("Look up k0..k7")
            times.append(time.perf_counter() - start)
            assert len(result.tool_calls) == CALLS and result.text == "All 8 found."
        print(f"{CALLS} tool calls of 200 ms in one answer, {reps} turns")
        print(f"  turn time: median {statistics.median(times):.3f} s, max {max(times):.3f} s (target <= 0.35 s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
