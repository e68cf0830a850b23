"""One benchmark, before and after a change, in one run: `python -m bench.side_by_side <git ref> [bench name]`.

The ref is checked out (a local git worktree under BYOK_VAR_DIR/bench, nothing downloaded) and the benchmark runs
alternately in that tree and in this one, one repeat at a time (BENCH_DP_REPEATS=1 and the like), ROUNDS times:
on a shared, noisy machine interleaved runs are what makes the two comparable. Both trees use this virtualenv.
Every figure line is printed with its tree's label, so the two columns can be read side by side.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
ONE_REPEAT = {"BENCH_DP_REPEATS": "1"}


def worktree(ref: str) -> Path:
    base = Path(os.environ.get("BYOK_VAR_DIR", ROOT / "var")) / "bench" / "baseline"
    commit = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.strip()
    tree = base / commit[:12]
    if not tree.exists():
        base.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True)
    return tree


def run(tree: Path, label: str, bench: str) -> None:
    env = {**os.environ, **ONE_REPEAT, "PYTHONPATH": str(tree), "BYOK_VAR_DIR": str(tree / "var" / "bench")}
    process = subprocess.Popen([sys.executable, "-m", "bench", bench], cwd=tree, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        print(f"[{label}] {line}", end="", flush=True)
    process.wait()


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    ref, bench = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "bench_data_plane"
    before = worktree(ref)
    for round_ in range(1, ROUNDS + 1):
        print(f"== round {round_}/{ROUNDS}", flush=True)
        run(before, f"before {ref}", bench)
        run(ROOT, "after", bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
