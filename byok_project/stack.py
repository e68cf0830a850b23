"""`make run`: the whole product in one foreground command; Ctrl-C stops every part.

Starts the web server, a Celery worker with beat and, unless real provider endpoints are configured,
the provider simulator with its demo accounts (sandbox mode).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", int(os.environ.get("PORT", "8000"))


def processes(env: dict[str, str]) -> list[tuple[str, list[str]]]:
    python = sys.executable
    return [
        ("web", [python, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"]),
        ("worker", [python, "-m", "celery", "-A", "byok_project", "worker", "--beat", "--loglevel", "INFO",
                    "--concurrency", "2", "--schedule", str(Path(env["BYOK_VAR_DIR"]) / "celerybeat-schedule")]),
    ]


def banner() -> str:
    password = os.environ.get("BYOK_DEMO_PASSWORD", "byok-demo-2026")
    base = f"http://{HOST}:{PORT}"
    return "\n".join([
        "",
        "byok is starting (Ctrl-C stops everything):",
        f"  Staff admin       {base}/admin/",
        f"  API docs          {base}/api/docs/",
        f"  Health            {base}/healthz",
        f"  Demo logins       admin (staff), olivia (owner, business), ada (admin), mark (member),"
        f" frank (owner, free) - password: {password}",
        "",
    ])


def main() -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("BYOK_VAR_DIR", str(ROOT / "var"))
    print(banner(), flush=True)
    children = [
        (name, subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)) for name, cmd in processes(env)
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
