"""Run every ``bench/bench_*.py`` script and refresh the tables of ``docs/benchmarks.md``.

Each script prints its table and writes it to ``bench/results/<name>.md``; this script then
replaces the block of ``docs/benchmarks.md`` between ``<!-- bench:<name> -->`` and
``<!-- /bench:<name> -->`` with that file's content. ``python bench/run_all.py --only metrics``
runs one script.
"""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"


def splice(readme: str, name: str, table: str) -> str:
    """Replace the page's block of benchmark ``name`` with ``table`` (unchanged if absent)."""
    pattern = re.compile(
        rf"(<!-- bench:{re.escape(name)} -->\n).*?(<!-- /bench:{re.escape(name)} -->)", re.S
    )
    return pattern.sub(lambda m: m.group(1) + table.rstrip() + "\n" + m.group(2), readme)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="names of the scripts to run (bench_<name>.py)")
    parser.add_argument("--no-run", action="store_true", help="only refresh docs/benchmarks.md")
    args = parser.parse_args(argv)
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem[len("bench_"):] in args.only]
    failed = []
    for script in scripts if not args.no_run else []:
        start = time.perf_counter()
        print(f"== {script.name}", flush=True)
        code = subprocess.call([sys.executable, str(script)], cwd=ROOT)
        print(f"== {script.name}: exit {code} in {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(script.name)
    readme = PAGE.read_text(encoding="utf-8")
    for table in sorted(RESULTS.glob("*.md")):
        readme = splice(readme, table.stem, table.read_text(encoding="utf-8"))
    PAGE.write_text(readme, encoding="utf-8")
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
