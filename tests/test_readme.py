"""The README's code runs as written, and its commands are the ones CI uses."""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def swap_block():
    """The first Python block: the four-change swap, which the README says runs as written.
    (The distributed block needs a cluster; tests/test_distributed.py runs its calls.)"""
    return re.findall(r"```python\n(.*?)```", README, re.S)[0]


def test_readme_shows_both_commands_first():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert "make demo" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_swap_block_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MXFAIR_PROGRESS", "0")
    exec(compile(swap_block(), "README.md swap block", "exec"), {})
    assert sorted(os.listdir(tmp_path)) == ["adult_fair-0000.params", "adult_fair-symbol.json"]
    summary = capsys.readouterr().out
    assert "demographic_parity_difference" in summary
