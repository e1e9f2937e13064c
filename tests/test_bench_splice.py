import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "run_all", Path(__file__).resolve().parents[1] / "bench" / "run_all.py"
)
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)

X_BLOCK = "<!-- bench:x -->\n{}<!-- /bench:x -->\n"
Y_BLOCK = "<!-- bench:y -->\nkeep\n<!-- /bench:y -->\n"


def test_splice_replaces_only_its_block():
    readme = "a\n" + X_BLOCK.format("old\n") + Y_BLOCK
    out = run_all.splice(readme, "x", "| new |\n")
    assert out == "a\n" + X_BLOCK.format("| new |\n") + Y_BLOCK


def test_splice_without_block_is_unchanged():
    assert run_all.splice("text\n", "x", "| t |") == "text\n"
