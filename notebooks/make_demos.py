"""Build, record and execute the demo notebooks.

    python notebooks/make_demos.py [NAME ...]

For each demo: write the notebook from the cells below, run it once against
`halion_nb.testing.FakeOpenAI` (scripted model answers) with `HALION_REPLAY` and
`HALION_RECORD=1` set so the conversation is recorded to `replays/NAME.jsonl` (a shipped
recording is written only with HALION_RECORD), then run it again offline (no key, no base
URL) so the committed outputs are those of replay mode, as CI and `halion demo` see.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from halion_nb.testing import FakeOpenAI, call, reply

HERE = Path(__file__).resolve().parent


def setup_cell(name: str) -> str:
    return f'''import os, tempfile
# Offline unless a model service is configured: replay the recorded model answers.
if not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
    os.environ.setdefault("HALION_REPLAY", "replays/{name}.jsonl")
# A fresh workspace folder for this run (halion demo sets HALION_HOME to a temporary copy).
os.environ.setdefault("HALION_HOME", tempfile.mkdtemp(prefix="halion-{name}-"))

%load_ext halion_nb
import halion_nb
ws = halion_nb.workspace()
print(ws.describe_mode())'''


WEATHER_TOOL = '''%%tool
from typing import Literal

def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict:
    """Current weather for a city (a fixed table, so the demo is reproducible).

    Args:
        city: City name, e.g. "Madrid".
        unit: Temperature unit: c or f.
    """
    table = {"Madrid": (21, "sunny"), "Oslo": (3, "cloudy"), "Lima": (18, "overcast")}
    if city not in table:
        raise ValueError(f"no weather for {city!r}; known cities: {', '.join(table)}")
    celsius, sky = table[city]
    temperature = celsius if unit == "c" else round(celsius * 9 / 5 + 32, 1)
    return {"city": city, "temperature": temperature, "unit": unit, "sky": sky}'''

FACTS_TOOL = '''%%tool
def city_facts(city: str) -> dict:
    """Country and population of a city.

    Args:
        city: City name.
    """
    facts = {"Madrid": ("Spain", 3_400_000), "Oslo": ("Norway", 717_000), "Lima": ("Peru", 10_000_000)}
    country, population = facts[city]
    return {"city": city, "country": country, "population": population}'''

QUICKSTART = [
    ("markdown", "# halion_nb quickstart\n\nTwo `%%tool` cells become tools; the chat model calls them "
     "(several calls in one answer); the call log shows what happened; the tools are exported to `tools/` "
     "as plain Python files."),
    ("code", setup_cell("quickstart")),
    ("markdown", "## 1. Two tools from notebook cells\nA typed, docstringed function in a `%%tool` cell "
     "runs as usual and becomes a tool; the card shows what the model will see."),
    ("code", WEATHER_TOOL),
    ("code", FACTS_TOOL),
    ("code", "%halion tools"),
    ("markdown", "## 2. Chat: the model calls both tools\nThe model asks for the weather of two cities in "
     "one answer; the two calls run concurrently and their results go back in order."),
    ("code", "%halion chat What's the weather in Madrid and Oslo right now, in Celsius?"),
    ("code", 'result = ws.chat("Which of the two cities is bigger, and by how much?")\n'
             'print([(c.name, c.arguments) for c in result.tool_calls])\nresult'),
    ("markdown", "A bad argument from the model is not a crash: the tool's validation error goes back "
     "to the model, which corrects itself."),
    ("code", 'result = ws.chat("And the weather in Lima, in kelvin?")\n'
             'for c in result.tool_calls:\n    print(c.name, c.arguments, "->", c.error or c.result)'),
    ("markdown", "## 3. The call log"),
    ("code", "%halion log -n 10"),
    ("markdown", "## 4. Export to `tools/`\nEach tool becomes a `.py` file that imports and runs without "
     "halion_nb."),
    ("code", "%halion save --all"),
    ("code", 'import subprocess, sys\ncode = "import get_weather as t; print(t.get_weather(\'Oslo\', \'f\'))"\n'
             'print(subprocess.run([sys.executable, "-c", code], cwd=ws.path / "tools",\n'
             '                     capture_output=True, text=True).stdout)'),
]

QUICKSTART_SCRIPT = [
    reply(tool_calls=[call("get_weather", {"city": "Madrid", "unit": "c"}),
                      call("get_weather", {"city": "Oslo", "unit": "c"})], usage=(180, 40)),
    reply("Right now it is **21 °C and sunny in Madrid** and **3 °C and cloudy in Oslo**.", usage=(260, 24)),
    reply(tool_calls=[call("city_facts", {"city": "Madrid"}), call("city_facts", {"city": "Oslo"})], usage=(300, 36)),
    reply("Madrid (3,400,000 people) is bigger than Oslo (717,000): about 4.7 times the population.",
          usage=(380, 30)),
    reply(tool_calls=[call("get_weather", {"city": "Lima", "unit": "k"})], usage=(420, 22)),
    reply(tool_calls=[call("get_weather", {"city": "Lima", "unit": "c"})], usage=(470, 22)),
    reply("Lima is 18 °C (overcast), which is 291.15 K; the weather tool only speaks Celsius and "
          "Fahrenheit, so I converted it.", usage=(520, 36)),
]

TOOLCHAINS = [
    ("markdown", "# Toolchains\n\nA chain is a named list of tool steps stored as JSON. Build one in Python "
     "and one from JSON, validate (with a deliberate mistake), run it, look at its diagram, and offer it to "
     "the chat model as a tool."),
    ("code", setup_cell("toolchains")),
    ("code", WEATHER_TOOL),
    ("code", '''%%tool
def advice(temperature: float, sky: str) -> str:
    """What to wear for the weather.

    Args:
        temperature: Temperature in Celsius.
        sky: Sky description, e.g. "sunny".
    """
    layer = "a coat" if temperature < 10 else "a light jacket" if temperature < 20 else "a t-shirt"
    return f"Wear {layer}" + (" and take an umbrella." if sky in ("rain", "overcast") else ".")'''),
    ("markdown", "## 1. A chain in Python\nArguments are literals or references (`inputs.NAME`, "
     "`steps.ID.output.FIELD`); nothing is evaluated as code."),
    ("code", '''from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep

chain = Toolchain(
    name="what_to_wear",
    description="Weather of a city and what to wear for it.",
    inputs=[ChainInput(name="city", type="string", description="City name")],
    steps=[
        ToolchainStep(id="weather", tool="get_weather", arguments={"city": Ref("inputs.city"), "unit": "c"}),
        ToolchainStep(id="wear", tool="advice", arguments={
            "temperature": Ref("steps.weather.output.temperature"), "sky": Ref("steps.weather.output.sky")}),
    ],
    expose=True,
)
ws.chains.save(chain)
chain'''),
    ("markdown", "## 2. A chain from JSON, with mistakes\nValidation lists every problem at once, each "
     "with its step."),
    ("code", '''broken = Toolchain.model_validate_json("""{
  "name": "broken_chain",
  "steps": [
    {"id": "wear", "tool": "advice", "arguments": {"temperature": {"ref": "steps.weather.output.temperature"}}},
    {"id": "weather", "tool": "get_weather", "arguments": {"city": "Madrid", "unit": "kelvin"}},
    {"id": "mail", "tool": "send_email", "arguments": {}}
  ]
}""")
for problem in ws.chains.validate(broken):
    print("-", problem)'''),
    ("markdown", "## 3. Run it"),
    ("code", 'run = ws.chains.run("what_to_wear", city="Oslo")\nprint(run.ok, run.output)\nrun'),
    ("code", "%halion chain list"),
    ("markdown", "## 4. The chain as a tool for the chat model\n`expose=True` offers the chain in chat next "
     "to the active tools."),
    ("code", 'print([t.name for t in ws.offered_tools()])\nws.chat("I am flying to Lima tomorrow. What should I wear?")'),
]

TOOLCHAINS_SCRIPT = [
    reply(tool_calls=[call("what_to_wear", {"city": "Lima"})], usage=(240, 20)),
    reply("Lima is 18 °C and overcast: wear a light jacket and take an umbrella.", usage=(300, 20)),
]

STARS_CODE = '''import json
import os
import urllib.request


def github_stars(repo: str) -> int:
    """Number of stars of a public GitHub repository.

    Args:
        repo: The repository as "owner/name", e.g. "python/cpython".
    """
    request = urllib.request.Request(
        f"https://api.github.com/repos/{repo}",
        headers={"Authorization": f"Bearer {os.environ['GITHUB_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["stargazers_count"]
'''

AUTHORING = [
    ("markdown", "# Authoring tools with the model\n\nThe model drafts a tool from a description, through "
     "structured output. halion_nb checks the draft without running it, lists risky constructs as warnings, "
     "and gives the model a chance to fix real problems. Nothing runs until you accept it."),
    ("code", setup_cell("authoring")),
    ("markdown", "## 1. Draft\nThe first answer has a problem (two public functions); the model gets the "
     "problem back and fixes it. In a notebook, `%halion draft \"...\"` puts the draft into a new `%%tool` "
     "cell below instead, for you to read and run."),
    ("code", 'draft = ws.tools.draft("How many stars does a GitHub repository have? Use the GITHUB_TOKEN env var.")\n'
             'print("model requests:", draft.attempts)\ndraft'),
    ("markdown", "## 2. Review and accept\nThe warnings name what to look at (here: network access). "
     "Accepting runs the code, which only defines the function, registers the tool and saves "
     "`tools/github_stars.py`."),
    ("code", "for warning in draft.warnings:\n    print(\"-\", warning)\ntool = draft.accept(ws)\n"
             "print(tool.name, \"saved:\", (ws.path / \"tools\" / \"github_stars.py\").exists())"),
    ("markdown", "## 3. The env var it needs, set without showing it\nhalion_nb reads the code with `ast` to "
     "find the variables a tool reads. In your notebook use `%halion env set GITHUB_TOKEN`: it asks with a "
     "password prompt. Here the demo sets a made-up value from code, and nothing ever prints it."),
    ("code", "print(ws.env.missing())\nimport secrets\n"
             "ws.env.set(\"GITHUB_TOKEN\", \"ghp_demo_\" + secrets.token_hex(12))\nprint(ws.env.missing())"),
    ("code", "%halion env"),
]

AUTHORING_SCRIPT = [
    reply(json_content={"name": "github_stars", "env_vars": ["GITHUB_TOKEN"],
                        "rationale": "Calls the GitHub REST API with a token.",
                        "code": STARS_CODE + "\n\ndef helper(x: int) -> int:\n    \"\"\"Unused.\"\"\"\n    return x\n"}),
    reply(json_content={"name": "github_stars", "env_vars": ["GITHUB_TOKEN"],
                        "rationale": "Calls the GitHub REST API (network access) with the token from "
                                     "GITHUB_TOKEN and returns stargazers_count.",
                        "code": STARS_CODE}),
]

PANELS = [
    ("markdown", "# The panels\n\n`%halion panel` shows one tabbed panel over the current workspace; "
     "`%halion panel chat` (or tools, chains, logs, env, admin) shows one, and `halion_nb.panel()` does the "
     "same from Python. Panels on the same workspace stay in sync. Run this notebook in JupyterLab to use them."),
    ("code", setup_cell("panels")),
    ("code", WEATHER_TOOL),
    ("code", 'ws.chat("What is the weather in Oslo?").text'),
    ("markdown", "## A short guide\n"
     "- **Chat**: type a message and press Send; the answer streams in as markdown, each tool call is a "
     "collapsible card. Stop cancels a turn, New starts a fresh conversation, the model box sets `ws.model`. "
     "Service errors show a banner with Retry.\n"
     "- **Tools**: switch tools on and off and choose where results go; select one to see its source and schema, "
     "edit and save it (errors shown inline, nothing lost), try it with a form built from its schema, delete it.\n"
     "- **Chains**: add steps from the tool list, pick literals or references for each argument, validate, run "
     "with live per-step status, save, load, export and import JSON, or draft a chain from a goal.\n"
     "- **Logs**: the call log, newest first, with filters and paging; a row opens its full arguments and result.\n"
     "- **Env**: the variables each tool needs and which are missing; set them in a password field.\n"
     "- **Admin**: workspace path, counts, files, reload from disk, clear the log."),
    ("code", "# NBVAL_IGNORE_OUTPUT  (widget views hold random model ids)\n%halion panel"),
    ("code", "# NBVAL_IGNORE_OUTPUT\nhalion_nb.panel(\"tools\")"),
]

PANELS_SCRIPT = [
    reply(tool_calls=[call("get_weather", {"city": "Oslo", "unit": "c"})], usage=(150, 20)),
    reply("It is 3 °C and cloudy in Oslo.", usage=(200, 12)),
]

FILES_TOOL = '''%%tool --approve
FILES = {"notes.txt": "buy milk", "old.tmp": "scratch", "report.md": "# Q3"}

def delete_file(path: str) -> str:
    """Delete a file from the (pretend) project folder.

    Args:
        path: The file's name.
    """
    FILES.pop(path)
    return f"deleted {path}; left: {', '.join(FILES)}"'''

SWATCH_TOOL = '''%%tool
from PIL import Image, ImageDraw

def swatch(color: str):
    """A small picture of a color, with a circle in it.

    Args:
        color: A color name, e.g. "teal".
    """
    picture = Image.new("RGB", (240, 140), color)
    ImageDraw.Draw(picture).ellipse((80, 30, 160, 110), fill="white")
    return picture'''

CHAT = [
    ("markdown", "# The chat as people use it\n\nApproval before a tool runs, an image a tool returns, "
     "kernel variables as context, usage and limits, and a conversation resumed from disk."),
    ("code", setup_cell("chat")),
    ("markdown", "## 1. Approval before a tool runs\n`%%tool --approve` makes every call of `delete_file` wait "
     "for the person. In JupyterLab, `%halion chat` and the chat panel show a card with Approve and Deny. "
     "This notebook runs unattended (nbclient), where nobody can click, so the call is declined with that "
     "reason and the model reads it."),
    ("code", FILES_TOOL),
    ("code", "%halion chat Please delete old.tmp"),
    ("markdown", "From Python, `approve=` (or `ws.approver`) decides each call, one by one: here only "
     "`.tmp` files may go. The decision, who made it and the arguments are in the log."),
    ("code", 'def only_tmp(request):\n'
             '    from halion_nb.core.approval import Decision\n'
             '    ok = request.arguments.get("path", "").endswith(".tmp")\n'
             '    return Decision(ok, None if ok else "only .tmp files may be deleted", by="policy")\n\n'
             'ws.chat("Delete old.tmp and report.md", approve=only_tmp)'),
    ("code", "%halion log -n 2 --kind tool"),
    ("markdown", "## 2. An image from a tool\nA tool may return a PIL image, a matplotlib figure, "
     "`IPython.display.Image` or `halion_nb.Image`: the card shows it, and the model receives it as an image "
     "(scaled to `ws.image_max_side`); the log keeps its type, size and sha256, not its bytes."),
    ("code", SWATCH_TOOL),
    ("code", "%halion chat Show me a teal swatch and describe it."),
    ("code", 'row = ws.log.recent(1, kind="tool")[0]\nrow.result'),
    ("markdown", "## 3. Kernel variables as context\n`--with` adds a bounded, redacted preview of each "
     "variable (a DataFrame's shape, dtypes, first rows, missing values) to the message."),
    ("code", 'import pandas as pd\n'
             'sales = pd.DataFrame({"region": ["north", "south", "east", "west"],\n'
             '                      "units": [120, 135, None, 128], "price": [9.5, 9.5, 9.5, 95.0]})\n'
             'sales'),
    ("code", "%halion chat --with sales What is odd in this data?"),
    ("markdown", "## 4. Usage, cost and limits\nEach answer's footer shows its tokens and estimated cost, the "
     "conversation's and today's (`ws.prices`: dated defaults per model, yours to override). `ws.limits` "
     "stops a turn cleanly: here at one tool call."),
    ("code", "ws.limits.max_tool_calls = 1\n"
             'result = ws.chat("Show me a red and a navy swatch.")\n'
             "print(result.stopped_reason, '-', result.limit)\nws.limits.max_tool_calls = None"),
    ("code", "%halion usage"),
    ("markdown", "## 5. Conversations survive a restart\nEvery conversation is stored (redacted) in "
     "`.halion/conversations/` as it goes. `ws.conversations()` lists them; `%halion resume [ID]` (or "
     "`ws.resume(id)`, or the chat panel's picker) continues one, after a kernel restart too."),
    ("code", "%halion new"),
    ("code", "# NBVAL_IGNORE_OUTPUT\n%halion conversations"),
    ("code", "%halion resume"),
    ("code", "%halion chat Which file did you delete earlier?"),
]

CHAT_SCRIPT = [
    reply(tool_calls=[call("delete_file", {"path": "old.tmp"})], usage=(210, 18)),
    reply("I could not delete **old.tmp**: nobody was there to approve the call. Run this cell in "
          "JupyterLab and click *Approve*, or set `ws.approver`.", usage=(300, 34)),
    reply(tool_calls=[call("delete_file", {"path": "old.tmp"}), call("delete_file", {"path": "report.md"})],
          usage=(380, 40)),
    reply("Deleted **old.tmp**. I did not delete *report.md*: only `.tmp` files may be deleted.", usage=(470, 26)),
    reply(tool_calls=[call("swatch", {"color": "teal"})], usage=(520, 16)),
    reply("A teal rectangle with a white circle in the middle.", usage=(1400, 14)),
    reply("Two things stand out:\n\n| region | issue |\n|---|---|\n| east | `units` is missing |\n"
          "| west | `price` is **95.0**, ten times the others (a typo for 9.5?) |\n\n"
          "Everything else is consistent.", usage=(900, 60)),
    reply(tool_calls=[call("swatch", {"color": "red"}), call("swatch", {"color": "navy"})], usage=(1500, 30)),
    reply("You deleted **old.tmp** earlier (report.md was kept).", usage=(2200, 16)),
]


UNITS_SERVER = '''from mcp.server import MCPServer

server = MCPServer("units")
METRES = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "ft": 0.3048}


@server.tool()
def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length between m, km, mi and ft."""
    return round(value * METRES[from_unit] / METRES[to_unit], 2)


if __name__ == "__main__":
    server.run()  # stdio
'''

MCP = [
    ("markdown", "# MCP both ways\n\nA tool written in this notebook is served to any MCP client (Claude Desktop, "
     "VS Code, another agent), and an MCP server's tools are used by the chat like any other tool. Needs the "
     "extra: `pip install \"halion_nb[mcp]\"`."),
    ("code", setup_cell("mcp")),
    ("markdown", "## 1. A notebook tool, called by an MCP client\n`%halion mcp serve` serves this kernel's live "
     "tools over streamable HTTP on 127.0.0.1, in the background, and prints a config snippet for MCP clients. "
     "From a shell, `halion mcp --workspace DIR` serves the saved tools over stdio."),
    ("code", WEATHER_TOOL),
    ("code", "# NBVAL_IGNORE_OUTPUT\n# (the port is picked at random)\n%halion mcp serve"),
    ("markdown", "Any MCP client can now list and call it. Here the official SDK's own client does, from this "
     "notebook: a call, a bad argument (an MCP tool error the calling model can read), and the call log."),
    ("code", '''from mcp import Client

async with Client(ws.mcp.serving.url) as client:
    listed = await client.list_tools()
    good = await client.call_tool("get_weather", {"city": "Oslo"})
    bad = await client.call_tool("get_weather", {"city": "Oslo", "unit": "kelvin"})
print([t.name for t in listed.tools])
print(good.content[0].text)
print(bad.is_error, bad.content[0].text.splitlines()[:2])
print([(r.name, r.caller, r.error is None) for r in ws.log.recent(2)])'''),
    ("code", "%halion mcp stop"),
    ("markdown", "## 2. An MCP server's tools, called by the chat\nAny MCP server works; this one is four lines "
     "of the SDK's `MCPServer`, started over stdio as a subprocess. In your own notebook: "
     "`%halion mcp add time -- mcp-server-time`. Secrets a server needs are named "
     "(`env={\"SERVER_VAR\": \"WORKSPACE_VAR\"}`), never written into `.halion/mcp.json`."),
    ("code", f'''import sys
server_py = ws.path / "units_server.py"
server_py.write_text({UNITS_SERVER!r})
tools = ws.mcp.add("units", [sys.executable, str(server_py)])
print([t.name for t in tools])
print(ws.tools.get("units__convert_length").schema["function"]["parameters"]["required"])'''),
    ("markdown", "Its tools are ordinary `ws.tools` entries, named `<server>__<tool>`: switched on and off "
     "(`ws.mcp.disable(\"units\")` for the whole server), offered to the model, usable in chains, logged."),
    ("code", 'result = ws.chat("How many feet is a 10 km run?")\n'
             'print([(c.name, c.arguments, c.result) for c in result.tool_calls])\nresult'),
    ("code", "ws.close()  # stops the servers this workspace started"),
]

MCP_SCRIPT = [
    reply(tool_calls=[call("units__convert_length", {"value": 10, "from_unit": "km", "to_unit": "ft"})],
          usage=(210, 30)),
    reply("A 10 km run is **32,808.4 ft**.", usage=(260, 14)),
]


BATCH = [
    ("markdown", "# Batch runs: a chain over a DataFrame\n\nA chain that works on one input runs over every row "
     "of a DataFrame with `ws.chains.map`: on threads by default, on a Dask cluster with the same call. Results "
     "come back in input order, failed rows say why, and every tool call is in the log with `caller = \"batch\"`."),
    ("code", setup_cell("batch")),
    ("code", WEATHER_TOOL),
    ("code", '''%%tool
def advice(temperature: float, sky: str) -> str:
    """What to wear for the weather.

    Args:
        temperature: Temperature in Celsius.
        sky: Sky description, e.g. "sunny".
    """
    layer = "a coat" if temperature < 10 else "a light jacket" if temperature < 20 else "a t-shirt"
    return f"Wear {layer}" + (" and take an umbrella." if sky in ("rain", "overcast") else ".")'''),
    ("code", '''from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep

saved = ws.chains.save(Toolchain(
    name="what_to_wear",
    inputs=[ChainInput(name="city", type="string")],
    steps=[
        ToolchainStep(id="weather", tool="get_weather", arguments={"city": Ref("inputs.city")}),
        ToolchainStep(id="wear", tool="advice", arguments={"temperature": Ref("steps.weather.output.temperature"),
                                                          "sky": Ref("steps.weather.output.sky")}),
    ],
))'''),
    ("markdown", "## 1. One run per row, with a progress bar\nEach row's columns are the chain's inputs. "
     "The bar shows done, failed, the rate and the time left; stopping the kernel keeps what finished."),
    ("code", '''import pandas as pd

frame = pd.DataFrame({"city": ["Madrid", "Oslo", "Lima", "Atlantis", "Oslo", "Madrid"] * 10})
frame.head(4)'''),
    ("code", '''# NBVAL_IGNORE_OUTPUT  (the progress bar's widget has a random id; times vary)
run = ws.chains.map("what_to_wear", frame)'''),
    ("code", '''table = run.to_pandas()
table[["city", "status", "output", "error"]].head(5)'''),
    ("markdown", "## 2. What failed, and each step\n`run.failed()` lists the rows that ended in an error; "
     "each result keeps every step's arguments and result."),
    ("code", '''[(r.index, r.error) for r in run.failed()][:2], len(run.failed())'''),
    ("code", '''[(s.id, s.status, s.result) for s in run.results[0].steps]'''),
    ("code", '''rows = [r for r in ws.log.recent(1000, caller="batch") if r.meta.get("batch") == run.id]
sorted({(r.kind, r.name) for r in rows}), len(rows)'''),
    ("markdown", "## 3. The same call on a Dask cluster\nA `LocalCluster` of two worker processes stands in for "
     "a real cluster (`executor=\"tcp://scheduler:8786\"` joins one). The `%%tool` functions travel to the "
     "workers; their calls come back to this kernel's log."),
    ("code", '''from distributed import Client, LocalCluster

cluster = LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=":0", silence_logs=40)
client = Client(cluster)'''),
    ("code", '''# NBVAL_IGNORE_OUTPUT  (the progress bar's widget has a random id; times vary)
on_dask = ws.chains.map("what_to_wear", frame, executor=client)'''),
    ("code", '''[r.output for r in on_dask.results] == [r.output for r in run.results], on_dask.executor'''),
    ("markdown", "## 4. From a file, with the magic\n`%halion chain map NAME FILE` takes a CSV or JSONL file "
     "(`--dask ADDRESS` runs it on a cluster)."),
    ("code", '''path = ws.path / "cities.csv"
frame.head(6).to_csv(path, index=False)'''),
    ("code", '''# NBVAL_IGNORE_OUTPUT  (the progress bar's widget has a random id; times vary)
%halion chain map what_to_wear {path} --dask {cluster.scheduler_address}'''),
    ("code", '''client.close()
cluster.close()'''),
]


DEMOS = {
    "quickstart": (QUICKSTART, QUICKSTART_SCRIPT),
    "toolchains": (TOOLCHAINS, TOOLCHAINS_SCRIPT),
    "authoring": (AUTHORING, AUTHORING_SCRIPT),
    "panels": (PANELS, PANELS_SCRIPT),
    "chat": (CHAT, CHAT_SCRIPT),
    "mcp": (MCP, MCP_SCRIPT),
    "batch": (BATCH, []),
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path, env: dict[str, str]) -> None:
    saved = dict(os.environ)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HALION_REPLAY", "HALION_RECORD", "HALION_HOME",
                "HALION_MODEL"):
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def make(name: str) -> Path:
    cells, script = DEMOS[name]
    replay = HERE / "replays" / f"{name}.jsonl"
    replay.parent.mkdir(exist_ok=True)
    replay.unlink(missing_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"halion-record-{name}-"))
    try:
        with FakeOpenAI(*script) as server:
            execute(build(cells), HERE, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "recording",
                                          "HALION_REPLAY": str(replay), "HALION_HOME": str(scratch),
                                          "HALION_RECORD": "1"})  # shipped recordings: only this rewrites them
            if server.pending:
                raise RuntimeError(f"{name}: {server.pending} scripted answers were not used")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    nb = build(cells)
    execute(nb, HERE, {})
    target = HERE / f"{name}.ipynb"
    nbformat.write(nb, target)
    return target


if __name__ == "__main__":
    for demo in sys.argv[1:] or list(DEMOS):
        print(f"wrote {make(demo)}")
