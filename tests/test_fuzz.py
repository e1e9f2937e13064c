"""Every public entry point with bad input, each probe in a process of its own (issue 12).

The probes and the classes are in ``tests/_fuzz_probes.py``; ``bench/probe_table.py`` prints
the same probes' table for two trees (main and this one). A probe passes when the entry point
refuses the input clearly (a ValueError/TypeError naming the argument), documents what it did
(counted and warned, or NaN for the bad rows of a graph block), or does what the user meant.
"""
import inspect
import os
import signal
import time

import pytest
from _fuzz_probes import EXEMPT, GOOD, PROBES, Probe, classify, run
from _helpers import public_modules


@pytest.fixture(scope="module")
def outcomes():
    return {row["id"]: row for row in run(jobs=3)}


@pytest.mark.parametrize("probe_id", [p.id for p in PROBES])
def test_probe(outcomes, probe_id):
    row = outcomes[probe_id]
    assert row["outcome"] in GOOD, f"{row['outcome']}: {row['detail']}"


def test_the_probes_are_many_and_distinct():
    ids = [p.id for p in PROBES]
    assert len(ids) >= 150 and len(set(ids)) == len(ids)


def test_every_public_entry_point_is_probed():
    probed = " ".join(p.entry for p in PROBES) + " mx.metric.create"
    missing = []
    for module in public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.ismodule(obj) or not callable(obj) or name in EXEMPT
                    or (inspect.isclass(obj) and issubclass(obj, Warning))):
                continue
            if name not in probed:
                missing.append(f"{module.__name__}.{name}")
    assert not missing


def _classified(fn, **kw):
    return run([Probe("harness", "self-check", fn, **kw)], jobs=1, timeout=kw.pop("t", 20))[0]


def test_the_harness_tells_the_classes_apart():
    # what a probe would see: checks that the harness itself can fail a probe
    import warnings

    import numpy as np

    def clear():
        from mxfair._validation import check_ids

        check_ids("groups", [0, 5], 2)

    def warned():
        warnings.warn("2 rows left out", UserWarning, stacklevel=2)
        return 1.0

    assert _classified(clear, args=("groups",))["outcome"] == "clear"
    assert _classified(clear, args=("weights",))["outcome"] == "deep"  # does not name it
    assert _classified(lambda: np.zeros(2)[5])["outcome"] == "deep"
    assert _classified(lambda: 0.25)["outcome"] == "silent"
    assert _classified(lambda: 0.25, truth=0.25)["outcome"] == "correct"
    assert _classified(warned)["outcome"] == "documented"
    assert _classified(lambda: os.kill(os.getpid(), signal.SIGSEGV))["outcome"] == "crash"
    row = run([Probe("harness", "hang", lambda: time.sleep(30))], jobs=1, timeout=1.0)[0]
    assert row["outcome"] == "crash" and "hung" in row["detail"]
    assert classify(Probe("harness", "absent", lambda: 1, requires="mxfair:nothing"))[
        "outcome"] == "absent"
