"""The examples run end to end at a tiny size: every method in the table, finite figures, PNGs.

Each example's ``main([...])`` is called in-process with a subsample and one or two epochs; the
figures go to ``tmp_path``.
"""
import dataclasses
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from mxfair.datasets import load_tabular

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("accuracy", "balanced_accuracy", "demographic_parity_difference",
           "equalized_odds_difference")


def load_example(name: str):
    """Import ``examples/<name>.py`` as a module (the examples folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def assert_png(path) -> None:
    path = Path(path)
    assert path.is_file(), f"{path} was not written"
    head = path.read_bytes()[:8]
    assert head == PNG_MAGIC and path.stat().st_size > 10_000, f"{path} is not a real PNG"


def assert_finite_figures(row, keys=FIGURES, intervals=True) -> None:
    for key in keys:
        assert math.isfinite(row[key]), f"{row['method']}: {key} = {row[key]}"
        if intervals:
            lo, hi = row[f"{key}_lo"], row[f"{key}_hi"]
            assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi, (row["method"], key)
    assert 0.0 <= row["accuracy"] <= 1.0
    assert row["seconds"] >= 0.0


# ------------------------------------------------------------------------- adult_mitigation
@pytest.fixture(scope="module")
def adult():
    return load_example("adult_mitigation")


def test_adult_mitigation_every_method(adult, tmp_path, capsys):
    out_dir = tmp_path / "out"  # not there yet, as out/ in a fresh checkout
    result = adult.main(["--subsample", "600", "--epochs", "1", "--bootstrap", "50", "--quiet",
                         "--audit-permutations", "199", "--out", str(out_dir)])
    out = capsys.readouterr().out
    rows = result["rows"]
    assert [r["key"] for r in rows] == list(adult.METHODS)
    for row in rows:
        assert_finite_figures(row)
        assert row["method"] in out  # one table line per method
    assert "[" in out and "bal. acc." in out and "time (s)" in out
    # The post-processed rows reuse the baseline net: their time includes its training.
    base = rows[0]["seconds"]
    assert all(r["seconds"] >= base for r in rows if r["kind"] == "post")
    # Per-epoch validation history of every trained method, and the two figures.
    trained = [r["method"] for r in rows if r["kind"] == "train"]
    assert list(result["histories"]) == trained
    assert all(len(h) == 1 for h in result["histories"].values())
    assert set(result["figures"]) == {"front", "curves"}
    for path in result["figures"].values():
        assert_png(path)
        assert Path(path).parent == out_dir
    # The closing audits: the baseline and the best mitigated net, one page each.
    best = adult.best_mitigated(rows)
    assert best is not None and best["kind"] == "train" and best["key"] != "baseline"
    assert set(result["pages"]) == {"baseline", best["key"]}
    for key, path in result["pages"].items():
        page = Path(path).read_text(encoding="utf-8")
        assert '<section id="attribution">' in page and "data:image/png;base64," in page
        assert result["audits"][key].attribution.names[0] == "age"  # one-hot blocks grouped
    assert "audit of baseline: demographic parity difference" in out
    assert "proxies of sex:" in out
    # The baseline's per-group rows add up to the test split.
    assert sum(r[1] for r in result["groups"]) == 600


def test_adult_mitigation_is_deterministic(adult, tmp_path):
    argv = ["--subsample", "500", "--epochs", "2", "--bootstrap", "20", "--quiet", "--methods",
            "fairbatch", "constrained", "adversarial", "thr-eo", "--seed", "3"]
    first = adult.run(adult.parse_args(argv))
    second = adult.run(adult.parse_args(argv))
    assert [r["key"] for r in first["rows"]] == ["fairbatch", "constrained", "adversarial",
                                                 "thr-eo"]
    for a, b in zip(first["rows"], second["rows"]):
        for key in FIGURES:
            assert a[key] == b[key] and a[f"{key}_lo"] == b[f"{key}_lo"], (a["method"], key)
    # The thresholds needed the baseline, which is trained but not reported.
    assert "baseline" in first["histories"]


def test_adult_mitigation_other_dataset_and_options(adult, tmp_path):
    result = adult.main(["--dataset", "german", "--sensitive", "sex", "--subsample", "300",
                         "--epochs", "2", "--bootstrap", "0", "--quiet", "--methods",
                         "baseline", "loss-eo", "thr-dp", "--out", str(tmp_path)])
    assert result["data"].name == "german" and result["data"].sensitive == ["sex"]
    assert [r["key"] for r in result["rows"]] == ["baseline", "loss-eo", "thr-dp"]
    for row in result["rows"]:
        assert_finite_figures(row, intervals=False)
        assert "accuracy_lo" not in row  # no bootstrap asked
    assert all(len(h) == 2 for h in result["histories"].values())
    assert_png(tmp_path / "german_sex_front.png")


def test_adult_mitigation_json_over_seeds(adult, tmp_path, capsys):
    path = tmp_path / "sub" / "results.json"
    result = adult.main(["--subsample", "400", "--epochs", "1", "--bootstrap", "20", "--quiet",
                         "--methods", "baseline", "bounded-dp", "thr-dp", "--bound", "0.08",
                         "--seeds", "4", "5", "--json", str(path), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    doc = json.loads(path.read_text(encoding="utf-8"))  # strict JSON: no NaN
    assert doc == result["json"]
    assert doc["format"] == "mxfair.examples.adult_mitigation/1"
    assert doc["seeds"] == [4, 5] and doc["bound"] == 0.08 and doc["dataset"] == "adult"
    keys = ["baseline", "bounded-dp", "thr-dp"]
    assert [(r["seed"], r["key"]) for r in doc["rows"]] == [(s, k) for s in (4, 5) for k in keys]
    for row in doc["rows"]:
        for key in FIGURES:
            assert 0.0 <= row[key] <= 1.0 and row[f"{key}_lo"] <= row[f"{key}_hi"]
        if row["key"] == "bounded-dp":
            assert row["bound"] == 0.08 and row["bound_on"] == "demographic_parity_difference"
            assert row["bound_met"] == (row["demographic_parity_difference"] <= 0.08)
            assert row["bound_met_interval"] == (row["demographic_parity_difference_lo"] <= 0.08)
        else:
            assert row["bound"] is None and row["bound_met"] is None
    summary = {e["key"]: e for e in doc["summary"]}
    assert list(summary) == keys
    for key in keys:
        accs = [r["accuracy"] for r in doc["rows"] if r["key"] == key]
        assert summary[key]["accuracy_mean"] == pytest.approx(np.mean(accs))
        assert summary[key]["accuracy_sd"] == pytest.approx(np.std(accs, ddof=1))
        assert summary[key]["seeds"] == 2
    assert summary["bounded-dp"]["bound_met"] in (0, 1, 2)
    assert "+-" in out and "bound met" in out and str(path) in out
    # The first seed's run is the one printed and plotted, as with --seed 4.
    assert [r["seed"] for r in result["rows"]] == [4, 4, 4]


@pytest.mark.parametrize("argv, message", [
    (["--bound", "1.5"], "--bound must be a number in [0, 1)"),
    (["--bound", "nan"], "--bound must be a number in [0, 1)"),
    (["--seeds", "1", "1"], "--seeds must be distinct"),
])
def test_adult_mitigation_refuses_bad_arguments(adult, argv, message, capsys):
    with pytest.raises(SystemExit):
        adult.parse_args(argv)
    assert message in capsys.readouterr().err


def test_adult_threshold_rows_meet_their_constraint_on_the_fitting_split(adult):
    """The fitted rule equalises the rates on the split it was fitted on (here: test=val)."""
    argv = ["--subsample", "800", "--epochs", "4", "--batch-size", "64", "--lr", "0.01",
            "--bootstrap", "0", "--quiet", "--methods"]
    data = load_tabular("adult", seed=0, subsample=800)
    # Evaluate on the validation split itself: the DP gap there is the fitted one (~0 up to
    # the randomised decisions' sampling noise).
    same = dataclasses.replace(data, test=data.val)
    base, row = adult.run(adult.parse_args(argv + ["baseline", "thr-dp"]), same)["rows"]
    assert base["demographic_parity_difference"] > 0.08  # a real gap to remove
    assert row["demographic_parity_difference"] < 0.03
    assert row["selection_rate"] > 0.05 and np.isfinite(row["accuracy"])


# -------------------------------------------------------------------------------- cifar10s
CIFAR_FIGURES = ("accuracy", "worst_group_accuracy", "attribute_worst_group_accuracy")


def test_cifar10s_every_method(tmp_path, capsys):
    cifar = load_example("cifar10s")
    result = cifar.main(["--source", "digits", "--subsample", "300", "--test-subsample", "120",
                         "--epochs", "1", "--jtt-epochs", "1", "--bootstrap", "30", "--quiet",
                         "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert [r["key"] for r in result["rows"]] == list(cifar.TRAINED)
    for row in result["rows"]:
        assert_finite_figures(row, CIFAR_FIGURES)  # one seed: bootstrap intervals
        assert row["worst_group_accuracy"] <= row["attribute_worst_group_accuracy"] + 1e-12
        assert row["attribute_worst_group_accuracy"] <= row["accuracy"] + 1e-12
        assert row["method"] in out and row["epoch"] == 1
        assert row["training_groups"] == (row["key"] in cifar.USES_TRAINING_GROUPS)
    assert result["per_seed"]["jtt"][0]["errors"] > 0
    # the binary sub-task: the ERM net with and without per-domain thresholds
    assert list(result["binary_rows"]) == ["erm", "thresholds"]
    for row in result["binary_rows"].values():
        assert_finite_figures(row)
    # both versions of every base image sit in the same half: 60 images x 2 domains each
    data = result["data"]
    assert len(data["val"]["y"]) == len(data["test"]["y"]) == 120
    assert data["val"]["a"].sum() == 60 and data["test"]["a"].sum() == 60
    assert np.array_equal(data["test"]["g"], 2 * data["test"]["y"] + data["test"]["a"])
    assert all(len(h) == 1 and "worst_group_accuracy" in h[0]
               for h in result["histories"].values())
    assert "Training group labels used by: reweighing, fair-loss, group-dro, domain-ind" in out
    for path in result["figures"].values():
        assert_png(path)


def test_cifar10s_thresholds_only_trains_the_baseline(tmp_path):
    cifar = load_example("cifar10s")
    args = cifar.parse_args(["--source", "digits", "--subsample", "200", "--test-subsample",
                             "80", "--epochs", "1", "--bootstrap", "0", "--quiet", "--methods",
                             "thresholds"])
    result = cifar.run(args)
    assert result["rows"] == []  # no 10-class row: thresholds act on the binary sub-task
    assert list(result["binary_rows"]) == ["erm", "thresholds"]
    assert list(result["histories"]) == ["ERM (baseline)"]
    assert_finite_figures(result["binary_rows"]["thresholds"], intervals=False)


def test_spurious_benchmark_over_seeds(tmp_path):
    cifar = load_example("cifar10s")
    args = cifar.parse_args(["--benchmark", "spurious", "--subsample", "200",
                             "--test-subsample", "80", "--epochs", "1", "--seeds", "2",
                             "--jtt-epochs", "1", "--quiet", "--methods", "erm", "group-dro",
                             "jtt"])
    result = cifar.run(args)
    assert result["seeds"] == [0, 1] and result["binary_rows"] == {}
    assert [r["key"] for r in result["rows"]] == ["erm", "group-dro", "jtt"]
    for row in result["rows"]:
        per_seed = result["per_seed"][row["key"]]
        assert [r["seed"] for r in per_seed] == [0, 1]
        values = [r["worst_group_accuracy"] for r in per_seed]
        assert row["worst_group_accuracy"] == pytest.approx(np.mean(values))
        lo, hi = row["worst_group_accuracy_lo"], row["worst_group_accuracy_hi"]
        assert 0.0 <= lo <= row["worst_group_accuracy"] <= hi <= 1.0  # t-interval, clipped
    assert len(result["data"]["group_names"]) == 4
    assert len(result["data"]["train"]["y"]) == 200 and len(result["data"]["val"]["y"]) == 80
    # seeds draw different backgrounds, and group labels are (label, background) pairs
    assert cifar.load(args, 0)["train"]["a"].tolist() != cifar.load(args, 1)["train"]["a"]\
        .tolist()


def test_seed_interval_is_a_student_t_interval():
    cifar = load_example("cifar10s")
    mean, lo, hi = cifar.seed_interval([0.5, 0.6, 0.7])
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert (mean, lo, hi) == pytest.approx((0.6, 0.6 - half, 0.6 + half))
    assert cifar.seed_interval([0.9, 1.0])[2] == 1.0  # clipped
    assert math.isnan(cifar.seed_interval([0.4])[1])


# ---------------------------------------------------------------------- estimator_fairness
def test_estimator_fairness_every_run(tmp_path, capsys):
    est = load_example("estimator_fairness")
    result = est.main(["--subsample", "600", "--epochs", "2", "--bootstrap", "30", "--quiet",
                       "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert [r["key"] for r in result["rows"]] == list(est.RUNS)
    for row in result["rows"]:
        assert_finite_figures(row)
        assert row["method"] in out
        assert 1 <= row["epochs_run"] == len(row["history"]) <= 2
        restored = row["restored_epoch"]
        assert math.isnan(restored) or 1 <= restored <= row["epochs_run"]
    assert "restored" in out
    assert_png(result["figures"]["curves"])


def test_estimator_fairness_restores_the_best_epoch_within_the_bound(tmp_path):
    est = load_example("estimator_fairness")
    # A bound every epoch meets and no early stop: the checkpoint is the most accurate epoch.
    result = est.main(["--subsample", "600", "--epochs", "3", "--bootstrap", "0", "--quiet",
                       "--runs", "loss-dp", "--max-gap", "1.0", "--patience", "10",
                       "--out", str(tmp_path)])
    row = result["rows"][0]
    accs = [r["accuracy"] for r in row["history"]]
    assert row["epochs_run"] == 3
    assert row["restored_epoch"] == int(np.argmax(accs)) + 1


# ----------------------------------------------------------------------- distributed_adult
def test_distributed_adult_on_two_and_three_devices_trains_as_on_one(tmp_path):
    # --devices N splits each batch over N CPU contexts and calls the fair loss once with the
    # lists: the whole batch's penalty, so the training is the one-device training.
    example = load_example("distributed_adult")
    histories = []
    for devices in (1, 2, 3):
        out = tmp_path / f"history{devices}.json"
        assert example.main(["--epochs", "1", "--subsample", "1500", "--devices", str(devices),
                             "--out", str(out)]) == 0
        histories.append(__import__("json").loads(out.read_text()))
    one = histories[0]
    for other in histories[1:]:
        assert other["initial_loss"] == one["initial_loss"]
        for a, b in zip(one["epochs"], other["epochs"]):
            assert b["loss"] == pytest.approx(a["loss"], rel=1e-6)
            for key in ("accuracy", "demographic_parity_difference", "selection_rate"):
                np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-6)
