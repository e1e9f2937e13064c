"""Helpers shared by several test files (one home each, no copies).

* :func:`leftovers`: processes of a local ps-lite cluster still alive (test_launch,
  test_distributed);
* ``Y``, ``YP``, ``G``: two hand-counted facets (test_data_bias, test_clarify, test_aif360).
"""
import os
from pathlib import Path

import numpy as np

# Two facets, hand-counted: a = group "a" (TP=2, FP=1, FN=0, TN=1), d = group "d"
# (TP=1, FP=0, FN=1, TN=2).
Y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
YP = np.array([1, 1, 1, 0, 1, 0, 0, 0])
G = np.array(["a", "a", "a", "a", "d", "d", "d", "d"])


def leftovers(port: int) -> list:
    """Pids of live processes started for the cluster on ``port`` (found by environment)."""
    tag = f"DMLC_PS_ROOT_PORT={port}".encode() + b"\0"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text()
        except OSError:  # gone meanwhile, or not ours
            continue
        if tag in environ and "\nState:\tZ" not in status:
            pids.append(int(entry.name))
    return pids
