"""The README tells the truth: its quick start runs as written against `make run`'s stack, it stays a map (at most
300 lines), and every relative link in it and in docs/ leads to a file (and heading) that exists.

The quick start is run command by command in one bash process, as a reader would type it, against what `make run`
starts: the demo data (`seed_demo`), the ASGI app (Django and the data plane) on a free port, and a provider simulator
of its own with the demo accounts, with `make run`'s sandbox settings (`byok_project.stack`). Only the addresses
change (free ports for 8000 and 8100), and the breaker cool-down (30 s under `make run`) is 1 s here. A command whose
line ends in `# → a → b` must print `a` and `b`.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from byok.simulator import SimulatorServer
from byok.simulator.server import simulator_env
from byok_project import stack
from tests.fixtures.dataplane import DataPlaneServer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 300
WEB, SIMULATOR = "http://127.0.0.1:8000", "http://127.0.0.1:8100"
COOLDOWN_SECONDS = 1


# --- the quick start's commands ----------------------------------------------------------------------------------

def section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end != -1 else None]


def shell_commands(text: str) -> list[str]:
    """Each command of the ```sh blocks, whole: lines ending in a backslash and quotes left open continue it."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        current = ""
        for line in block.splitlines():
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            current += line + "\n"
            if not line.endswith("\\") and current.count("'") % 2 == 0:
                commands.append(current.rstrip("\n"))
                current = ""
        assert not current, f"unfinished command in the README: {current!r}"
    return commands


def expectations(command: str) -> list[str]:
    """What the command must print: `# → a → b` at the end of its last line."""
    last = command.splitlines()[-1]
    return [part.strip() for part in last.split("# →", 1)[1].split("→")] if "# →" in last else []


def test_the_quick_start_parser_reads_continued_lines_quotes_and_expectations():
    text = "```sh\nmake run\n# a comment\nA=$(echo \\\n  1)\nprint '\nx\n'  # → x → y\n```\n"
    assert shell_commands(text) == ["make run", "A=$(echo \\\n  1)", "print '\nx\n'  # → x → y"]
    assert expectations("print '\nx\n'  # → x → y") == ["x", "y"]


class Shell:
    """One bash process fed command after command (state such as variables and functions carries over)."""

    def __init__(self, *, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        marker = f"__readme_{uuid.uuid4().hex}__"
        self.process.stdin.write(f"{command}\n__status=$?; echo; echo {marker} $__status\n")
        self.process.stdin.flush()
        output = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no answer within {timeout} s to:\n{command}\nprinted so far:\n{''.join(output)}")
            if line.startswith(marker):
                return int(line.split()[1]), "".join(output)
            output.append(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def make_run_stack(transactional_db, settings, monkeypatch):
    """What `make run` serves in sandbox mode, on free ports: (web URL, simulator URL)."""
    for name in list(os.environ):
        if name.startswith("PLATFORM_") or name == "BYOK_BREAKER_COOLDOWN_SECONDS":
            monkeypatch.delenv(name)
    with SimulatorServer() as simulator:
        settings.BYOK_ENDPOINTS = simulator_env(simulator.url)
        sandbox = stack.sandbox_platform_env()
        settings.BYOK_PLATFORM_ENV = {name: value for name, value in sandbox.items() if name.startswith("PLATFORM_")}
        assert sandbox["BYOK_BREAKER_COOLDOWN_SECONDS"] == "30"  # what the README's `sleep 30` waits for
        settings.BYOK_BREAKER_COOLDOWN_SECONDS = COOLDOWN_SECONDS
        settings.BYOK_DEMO_PASSWORD = "byok-demo-2026"  # the README's (make run's default)
        call_command("seed_demo", verbosity=0)
        server = DataPlaneServer().start()
        try:
            yield server.url, simulator.url
        finally:
            server.stop()


def test_every_quick_start_command_works_as_written(make_run_stack):
    web, simulator = make_run_stack
    commands = shell_commands(section(README.read_text(), "Quick start"))
    assert commands[0] == "make run"  # the stack above stands in for it
    assert len(commands) > 8
    shell = Shell(cwd=ROOT, env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"})
    try:
        for command in commands[1:]:
            runnable = (command.replace(WEB, web).replace(SIMULATOR, simulator)
                        .replace("sleep 30", f"sleep {COOLDOWN_SECONDS + 0.5}"))
            status, output = shell.run(runnable)
            assert status == 0, f"{command}\n{output}"
            for expected in expectations(command):
                assert expected in output, f"{command}\nprinted:\n{output}\nnot: {expected!r}"
    finally:
        shell.close()


# --- the README stays a map; links lead somewhere ----------------------------------------------------------------

def test_the_readme_is_a_map_of_at_most_300_lines():
    assert len(README.read_text().splitlines()) <= MAX_README_LINES


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def broken_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.is_file():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            broken.append(target)
    return broken


def test_every_relative_link_in_the_readme_and_docs_resolves():
    assert len(DOCS) >= 10
    assert {path.name: broken_links(path) for path in [README, *DOCS] if broken_links(path)} == {}


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## Demo accounts (`x.json`)\n")
    page.write_text("[ok](other.md#demo-accounts-xjson) [no file](gone.md) [no heading](other.md#nowhere) "
                    "[web](https://example.com/gone.md)\n")
    assert broken_links(page) == ["gone.md", "other.md#nowhere"]
