"""The README's code runs as written, and its commands are the ones CI uses."""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_shows_both_commands_first():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert "make demo" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_python_block_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MXFAIR_PROGRESS", "0")
    exec(compile(python_blocks()[index], f"README.md block {index}", "exec"), {})
    if "export(" in python_blocks()[index]:
        assert sorted(os.listdir(tmp_path)) == ["adult_fair-0000.params", "adult_fair-symbol.json"]
    summary = capsys.readouterr().out
    assert "demographic_parity_difference" in summary
