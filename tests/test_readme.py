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


def audit_block():
    """The audit block, which the README runs after the swap (it reads its ``net``, ``data``)."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "audit(" in b]
    assert len(blocks) == 1
    return blocks[0]


def test_swap_and_audit_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MXFAIR_PROGRESS", "0")
    namespace = {}
    exec(compile(swap_block(), "README.md swap block", "exec"), namespace)
    assert sorted(os.listdir(tmp_path)) == ["adult_fair-0000.params", "adult_fair-symbol.json"]
    summary = capsys.readouterr().out
    assert "demographic_parity_difference" in summary
    exec(compile(audit_block(), "README.md audit block", "exec"), namespace)
    page = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "demographic_parity_difference" in page and "<img" in page
    assert namespace["report"].significance["p_value"].notna().all()
