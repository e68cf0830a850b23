"""`make run`: the whole product in one foreground command; Ctrl-C stops every part.

Starts the web server, a Celery worker with beat and, unless real provider endpoints are configured,
the provider simulator with its demo accounts (sandbox mode).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from byok.providers.registry import endpoint_overrides
from byok.simulator.server import simulator_env

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", int(os.environ.get("PORT", "8000"))


SIMULATOR_PORT = int(os.environ.get("BYOK_SIMULATOR_PORT", "8100"))
SIMULATOR_URL = f"http://127.0.0.1:{SIMULATOR_PORT}"


DEMO_ACCOUNTS = ROOT / "byok" / "simulator" / "demo_accounts.json"
# The simulator's demo accounts that play the platform's own credentials in sandbox mode. The Bedrock one is reserved
# for the platform (no owner is told to use it), so making an owner's demo key fail leaves the platform working.
PLATFORM_DEMO_ACCOUNTS = {"bedrock": "demo-platform-bedrock", "anthropic": "demo-anthropic", "openai": "demo-openai"}
# In sandbox mode a failing key is retried after this many seconds (not the production default of 300), so that a
# newcomer who breaks a demo key and mends it sees the recovery within a minute.
SANDBOX_BREAKER_COOLDOWN_SECONDS = "30"


def sandbox_platform_env() -> dict[str, str]:
    """Platform credentials from the simulator's demo accounts, and a short breaker cool-down: enough to watch a
    fallback to platform credentials and the recovery. Whatever the environment already sets wins."""
    accounts = {a["name"]: a for a in json.loads(DEMO_ACCOUNTS.read_text())["accounts"]}
    aws = accounts[PLATFORM_DEMO_ACCOUNTS["bedrock"]]
    defaults = {
        "PLATFORM_AWS_ACCESS_KEY_ID": aws["access_key_id"],
        "PLATFORM_AWS_SECRET_ACCESS_KEY": aws["secret_access_key"],
        "PLATFORM_ANTHROPIC_API_KEY": accounts[PLATFORM_DEMO_ACCOUNTS["anthropic"]]["api_key"],
        "PLATFORM_OPENAI_API_KEY": accounts[PLATFORM_DEMO_ACCOUNTS["openai"]]["api_key"],
        "BYOK_BREAKER_COOLDOWN_SECONDS": SANDBOX_BREAKER_COOLDOWN_SECONDS,
    }
    # Platform credentials given for a provider in the environment replace all of that provider's demo ones.
    given = {prefix for prefix in ("PLATFORM_AWS_", "PLATFORM_ANTHROPIC_", "PLATFORM_OPENAI_")
             if any(name.startswith(prefix) for name in os.environ)}
    return {name: value for name, value in defaults.items()
            if name not in os.environ and not any(name.startswith(prefix) for prefix in given)}


def real_endpoints_configured() -> bool:
    return any(os.environ.get(name) for name in endpoint_overrides())


def process_env(*, sandbox: bool, simulator_url: str = SIMULATOR_URL) -> dict[str, str]:
    """The environment of every process `make run` starts. In sandbox mode every endpoint setting a provider reads
    points at the simulator, and the platform's credentials are its demo accounts."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           **({**simulator_env(simulator_url), **sandbox_platform_env()} if sandbox else {})}
    env.setdefault("BYOK_VAR_DIR", str(ROOT / "var"))
    return env


def processes(env: dict[str, str], *, sandbox: bool) -> list[tuple[str, list[str]]]:
    python = sys.executable
    simulator = [("simulator", [python, "manage.py", "run_provider_simulator", "--port", str(SIMULATOR_PORT)])]
    return (simulator if sandbox else []) + [
        # The ASGI app: the data plane (/v1/...) beside Django. Production adds --workers N (see docs/operations.md).
        ("web", [python, "-m", "uvicorn", "byok_project.asgi:application", "--host", HOST, "--port", str(PORT),
                 "--http", "byok_project.http_protocol:HttpProtocol", "--no-access-log", "--lifespan", "on"]),
        ("worker", [python, "-m", "celery", "-A", "byok_project", "worker", "--beat", "--loglevel", "INFO",
                    "--concurrency", "2", "--schedule", str(Path(env["BYOK_VAR_DIR"]) / "celerybeat-schedule")]),
    ]


def banner(*, sandbox: bool) -> str:
    password = os.environ.get("BYOK_DEMO_PASSWORD", "byok-demo-2026")
    base = f"http://{HOST}:{PORT}"
    return "\n".join([
        "",
        "byok is starting (Ctrl-C stops everything):",
        f"  Owner console     {base}/manage/   (olivia)",
        f"  Staff admin       {base}/admin/    (admin)",
        f"  API docs          {base}/api/docs/",
        f"  Health            {base}/healthz",
        f"  Data plane        {base}/v1/chat/completions, {base}/v1/messages, {base}/v1/models",
        f"  Demo logins       admin (staff), olivia (owner, business), ada (admin), mark (member),"
        f" frank (owner, free) - password: {password}",
        f"  Sandbox mode      provider calls go to the simulator on port {SIMULATOR_PORT}; demo credentials are in "
        "docs/simulator.md (Demo accounts)" if sandbox else "  Provider calls go to the real providers",
        "",
    ])


def main() -> int:
    sandbox = not real_endpoints_configured()
    env = process_env(sandbox=sandbox)
    print(banner(sandbox=sandbox), flush=True)
    children = [
        (name, subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True))
        for name, cmd in processes(env, sandbox=sandbox)
    ]

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children:
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the rest.", flush=True)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.3)

    for _, child in children:
        if child.poll() is None:
            child.terminate()  # each part shuts down its own children (the worker's pool) cleanly
    deadline = time.monotonic() + 10
    for _, child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    print("byok stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
