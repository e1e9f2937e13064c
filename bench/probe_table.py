"""The bad-input probe table, before and after: ``tests/_fuzz_probes.py`` against two trees.

``python bench/probe_table.py --before PATH`` runs every probe (each in a process of its own)
against the mxfair of ``PATH`` (a checkout of main, e.g. ``git worktree add /tmp/main main``) and
against this tree, then prints the counts per class (clear / documented / correct / deep / crash /
silent / absent) and every probe whose class changed, and writes them to
``bench/results/probes.md``. Without ``--before`` only this tree is run. The classes are defined
in ``tests/_fuzz_probes.py``; ``tests/test_fuzz.py`` runs the same probes in the suite.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBES = ROOT / "tests" / "_fuzz_probes.py"
sys.path.insert(0, str(ROOT / "tests"))

from _fuzz_probes import CLASSES, table  # noqa: E402


def run_tree(tree: Path, jobs: int) -> list:
    """Every probe against the mxfair package of ``tree`` (JSON rows from a fresh process)."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", MXFAIR_PROGRESS="0")
    with tempfile.TemporaryDirectory() as cwd:  # so that ./mxfair never shadows the tree
        out = subprocess.run([sys.executable, str(PROBES), "--jobs", str(jobs)], cwd=cwd,
                             env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def changes(before: list, after: list) -> str:
    old = {r["id"]: r for r in before}
    lines = ["| entry point | bad input | owner | before | after | after: what it says |",
             "|---|---|---|---|---|---|"]
    for r in after:
        b = old.get(r["id"], {"outcome": "-"})
        if b["outcome"] != r["outcome"]:
            said = r["detail"].replace("|", "/").replace("\n", " ")[:110]
            lines.append(f"| {r['entry']} | {r['case']} | {r['owner'] or ''} | {b['outcome']} "
                         f"| {r['outcome']} | {said} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, help="a tree with main's mxfair package")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "probes.md")
    args = parser.parse_args(argv)
    after = run_tree(ROOT, args.jobs)
    before = run_tree(args.before, args.jobs) if args.before else None
    text = [f"{len(after)} probes, classes as defined in tests/_fuzz_probes.py "
            f"({', '.join(CLASSES)}).", "", table(after, before), ""]
    if args.before:
        text += ["Probes whose class changed:", "", changes(before, after), ""]
    rest = [r for r in after if r["outcome"] not in ("clear", "documented", "correct")]
    text += ["Not clear, documented or correct after:", ""]
    text += [f"- {r['id']} ({r['owner'] or 'this branch'}): {r['outcome']}, "
             f"{r['detail'][:120]}".replace("\n", " ") for r in rest] or ["- none"]
    out = "\n".join(text) + "\n"
    print(out)
    args.out.write_text(out, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
