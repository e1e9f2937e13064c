"""The notebooks execute top to bottom (nbclient) at the reduced size ``MXFAIR_NOTEBOOK_FAST=1``.

The kernel is the ``python3`` kernelspec, which jupyter_client launches with this interpreter
(the virtualenv's); the first test checks that, so a notebook never runs against another
Python's mxfair. A failing cell raises ``CellExecutionError`` and fails the test. The committed
notebooks hold the outputs of a full-size run; the test executes a copy and leaves them alone.
"""
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.manager import KernelManager

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["tabular_adult.ipynb", "cifar_like.ipynb"]
BUDGET_S = 90  # each notebook runs in ~15-20 s at the reduced size; generous for a loaded CI


def test_python3_kernel_is_this_interpreter():
    cmd = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert os.path.realpath(cmd[0]) == os.path.realpath(sys.executable), cmd


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, monkeypatch):
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    saved_images = sum("image/png" in o.get("data", {})
                       for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert saved_images >= 3, f"{name} was committed without its figures"
    monkeypatch.setenv("MXFAIR_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("MXFAIR_PROGRESS", "0")
    client = nbclient.NotebookClient(nb, timeout=BUDGET_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert "fast mode" in "".join(o.get("text", "") for o in outputs)  # the size switch works
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert images >= 3, f"{name}: only {images} figures displayed"
    assert seconds < BUDGET_S
