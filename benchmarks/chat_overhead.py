"""Chat loop overhead: halion's `ws.chat` vs a hand-written loop on the raw `openai` SDK.

Both run the same scripted 3-round exchange (two tool calls, then the answer) against the
same fake server, interleaved, many times. The server runs in its own process, as a real one
would, so that its work does not compete with the client for this process's GIL.
Prints both medians and their ratio (target ≤ 1.10), plus halion with the call-log writes
stubbed out, to show what the log (five redacted SQLite rows a turn) costs.

Run: python benchmarks/chat_overhead.py [repetitions]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import openai

from halion_nb.testing import call, reply
from halion_nb.workspace import Workspace

KEY = "sk-bench-key"


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number
        b: second number
    """
    return a + b


def weather(city: str) -> dict[str, Any]:
    """Current weather in a city.

    Args:
        city: the city
    """
    return {"city": city, "temp_c": 21}


SCRIPT = [
    reply(tool_calls=[call("weather", {"city": "Madrid"}, id="call_w")], usage=(40, 8)),
    reply(tool_calls=[call("add", {"a": 20, "b": 1}, id="call_a")], usage=(60, 8)),
    reply("Madrid is at 21 °C, and 20 + 1 = 21.", usage=(80, 12)),
]


def raw_loop(client: openai.OpenAI, tools: list[dict[str, Any]], functions: dict[str, Any]) -> str:
    """The loop a person would write by hand with the SDK."""
    messages: list[Any] = [{"role": "user", "content": "Weather in Madrid, and 20 + 1?"}]
    while True:
        response = client.chat.completions.create(model="gpt-bench", messages=messages, tools=tools)
        msg = response.choices[0].message
        if not msg.tool_calls:
            return msg.content or ""
        messages.append(msg.model_dump(exclude_none=True))
        for tc in msg.tool_calls:
            result = functions[tc.function.name](**json.loads(tc.function.arguments))
            content = result if isinstance(result, str) else json.dumps(result)
            messages.append({"role": "tool", "tool_call_id": tc.id, "content": content})


SERVER = """
import sys
sys.path.insert(0, {here!r})
from chat_overhead import SCRIPT
from halion_nb.testing import FakeOpenAI
with FakeOpenAI(*SCRIPT * {turns}) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""


def start_server(turns: int) -> tuple[subprocess.Popen[str], str]:
    """A FakeOpenAI in a child process, scripted for `turns` exchanges; returns it and its base URL."""
    code = SERVER.format(here=os.path.dirname(os.path.abspath(__file__)), turns=turns)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def main(reps: int = 200) -> None:
    child, base_url = start_server(3 * (reps + 1))
    try:
        run(base_url, reps)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def run(base_url: str, reps: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY=KEY)
        os.environ.pop("HALION_REPLAY", None)
        ws = Workspace(folder, model="gpt-bench")
        for fn in (add, weather):
            ws.tools.register(fn)
        tools = [t.schema for t in ws.offered_tools()]
        client = openai.OpenAI(max_retries=2, timeout=60)
        functions = {"add": add, "weather": weather}

        def run_halion() -> str:
            return ws.new_chat().send("Weather in Madrid, and 20 + 1?").text

        def run_raw() -> str:
            return raw_loop(client, tools, functions)

        quiet = Workspace(os.path.join(folder, "quiet"), model="gpt-bench")
        for fn in (add, weather):
            quiet.tools.register(fn)
        quiet.log.record = lambda *args, **kwargs: 0  # type: ignore[method-assign]

        def run_quiet() -> str:
            return quiet.new_chat().send("Weather in Madrid, and 20 + 1?").text

        runs = [("halion", run_halion), ("raw", run_raw), ("quiet", run_quiet)]
        for _, fn in runs:  # warm up: imports, clients, sqlite file
            fn()
        times: dict[str, list[float]] = {name: [] for name, _ in runs}
        for i in range(reps):
            for name, fn in runs[i % 3:] + runs[:i % 3]:
                start = time.perf_counter()
                text = fn()
                times[name].append(time.perf_counter() - start)
                assert text.startswith("Madrid"), text
        halion, raw, quiet_ms = (statistics.median(times[k]) for k in ("halion", "raw", "quiet"))
        print(f"3-round exchange with 2 tool calls, {reps} repetitions each, fake server in a child process")
        print(f"  raw openai loop : median {raw * 1000:7.2f} ms")
        print(f"  halion ws.chat  : median {halion * 1000:7.2f} ms")
        print(f"  ratio           : {halion / raw:.3f} (target <= 1.10)")
        print(f"  halion, log writes stubbed out: median {quiet_ms * 1000:.2f} ms, ratio {quiet_ms / raw:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
