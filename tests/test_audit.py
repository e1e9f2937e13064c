"""mxfair.audit and the AuditReport page; the ``mxfair audit`` command line on an exported
model and a CSV file (subprocesses in a temp folder); bad inputs refused clearly."""
import base64
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from mxnet import gluon

import mxfair
from mxfair._validation import IDS_NOT_NUMERIC
from mxfair.auditing import SECTIONS, AuditReport, audit
from mxfair.datasets import load_german
from mxfair.metrics import GroupStats

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def synthetic(n=1200, seed=0):
    """A proxy ('zip') of the group drives the label; 'noise' does not know the group."""
    rs = np.random.RandomState(seed)
    g = rs.randint(0, 2, n)
    zip_code = g + 0.4 * rs.randn(n)
    income = rs.randn(n)
    noise = rs.randn(n)
    X = np.c_[income, zip_code, noise].astype(np.float32)
    y = (income + 1.2 * zip_code + 0.5 * rs.randn(n) > 0.6).astype(int)
    return X, y, g, ["income", "zip", "noise"]


def trained_net(X, y, ctx=None, epochs=6, seed=0):
    mx.random.seed(seed)
    ctx = ctx or mx.cpu()
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    for _ in range(epochs):
        for i in range(0, len(X), 128):
            xb = mx.nd.array(X[i:i + 128], ctx=ctx)
            yb = mx.nd.array(y[i:i + 128], ctx=ctx)
            with mx.autograd.record():
                out = loss(net(xb), yb)
            out.backward()
            trainer.step(xb.shape[0])
    return net


@pytest.fixture(scope="module")
def setup():
    X, y, g, names = synthetic()
    return trained_net(X, y), X, y, g, names


@pytest.fixture(scope="module")
def report(setup):
    net, X, y, g, names = setup
    return audit(net, (X, y, g), train_data=(y, g), group_names=["a", "b"],
                 feature_names=names, permutations=999, bootstrap=50, title="Synthetic audit")


class Page(HTMLParser):
    """Collects section ids, headings, images and table cells of a page."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.cells, self.headings = [], [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in in ("td", "th"):
            self.cells.append(data)
        if self._in == "h2":
            self.headings.append(data)


# -------------------------------------------------------------------------------- the call
def test_audit_holds_every_part(report, setup):
    net, X, y, g, names = setup
    assert isinstance(report, AuditReport)
    assert mxfair.audit is audit
    stats = GroupStats(2, from_logits=True)
    stats.update(y, net(mx.nd.array(X)), g)
    expected = stats.report().summary()["demographic_parity_difference"]
    assert report.summary["demographic_parity_difference"] == pytest.approx(expected)
    assert report.summary["demographic_parity_difference_lo"] <= expected
    sig = report.significance.set_index("gap")
    assert sig.loc["demographic_parity_difference", "p_value"] < 0.01
    assert (sig["p_holm"] >= sig["p_value"]).all()
    assert "Holm" in report.meta["correction"]
    assert report.attribution.ranking()[0][0] == "zip"
    assert report.proxies["feature"].iloc[0] == "zip"
    assert [p.feature for p in report.partial_dependence][0] == "zip"
    assert set(report.data_bias) == {"audited data", "training data"}
    assert set(report.data_bias["audited data"]) == {"a", "b"}
    assert {"group_rates", "null_distribution", "attribution", "proxies",
            "partial_dependence"} <= set(report.figures)
    assert any("zip" in line for line in report.findings())


def test_html_page_is_self_contained_and_holds_every_section(report, tmp_path):
    path = tmp_path / "audit.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    parser = Page()
    parser.feed(page)
    assert parser.sections == [anchor for anchor, _ in SECTIONS]
    assert parser.headings == [heading for _, heading in SECTIONS]
    assert len(parser.images) == len(report.figures)
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
    assert "http" not in page.replace("https://", "").split("<body>")[0]  # nothing fetched
    assert "demographic_parity_difference" in parser.cells
    assert "zip" in parser.cells
    svg = report.to_html(None, image_format="svg")
    assert "data:image/svg+xml;base64," in svg


def test_json_and_markdown(report, tmp_path):
    text = report.to_json(tmp_path / "audit.json")
    data = json.loads(text)  # strict JSON: NaN written as null
    assert "NaN" not in text
    assert data["attribution"]["features"][0] in ("income", "zip", "noise")
    assert data["significance"][0]["gap"] == "demographic_parity_difference"
    assert data["meta"]["groups"] == ["a", "b"]
    md = report.to_markdown(tmp_path / "audit.md", figures_dir=tmp_path / "fig")
    for _, heading in SECTIONS:
        assert f"## {heading}" in md
    assert "](fig/audit_attribution.png)" in md
    assert (tmp_path / "fig" / "audit_attribution.png").read_bytes()[:8] == PNG


def test_datasets_loaders_and_tabular_data_give_the_same_audit(setup):
    net, X, y, g, names = setup
    kwargs = dict(permutations=199, bootstrap=0, figures=False, proxies=False,
                  attribution=False)
    by_arrays = audit(net, (X, y, g), **kwargs)
    ds = gluon.data.ArrayDataset(X, y.astype(np.float32), g.astype(np.float32))
    by_dataset = audit(net, ds, batch_size=100, **kwargs)
    by_loader = audit(net, gluon.data.DataLoader(ds, batch_size=77), **kwargs)
    for other in (by_dataset, by_loader):
        np.testing.assert_allclose(other.report.counts, by_arrays.report.counts)
        pd.testing.assert_frame_equal(other.significance, by_arrays.significance)


def test_audit_of_tabular_data_uses_its_names_and_one_hot_blocks():
    data = load_german(subsample=250, sensitive="sex")
    net = trained_net(data.train.X, data.train.y.astype(np.float32), epochs=2)
    rep = audit(net, data, train_data=data.train, permutations=199, bootstrap=20,
                figures=False)
    assert rep.meta["groups"] == data.group_names
    assert "purpose" in rep.attribution.names  # a one-hot block as one feature
    assert len(rep.attribution.names) < data.num_features
    assert rep.meta["rows"] == len(data.test)


def test_audit_runs_on_the_nets_context(ctx):
    X, y, g, names = synthetic(n=400)
    net = trained_net(X, y, ctx=ctx, epochs=1)  # parameters on cpu(1) only
    rep = audit(net, (X, y, g), permutations=99, bootstrap=10, figures=False)
    assert rep.meta["context"] == str(ctx)
    rep = audit(net, (mx.nd.array(X, ctx=ctx), mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)),
                permutations=99, bootstrap=10, figures=False, proxies=False)
    assert np.isfinite(rep.attribution.gap)


def test_a_model_without_gradients_is_explained_by_permutation(setup):
    net, X, y, g, names = setup

    def host_model(x):  # goes through NumPy: autograd cannot follow it
        return mx.nd.array(net(x).asnumpy(), ctx=x.context)

    rep = audit(host_model, (X, y, g), feature_names=names, permutations=99, bootstrap=0,
                figures=False)
    assert rep.attribution is None
    assert rep.permutation_attribution["feature"].iloc[0] == "zip"
    assert any("gradients unavailable" in n for n in rep.notes)
    assert "gap removed" in rep.to_html(None)


def test_image_net_with_wrong_gradients_is_explained_by_occlusion(ctx):
    rs = np.random.RandomState(0)
    X = rs.rand(80, 3, 8, 8).astype(np.float32)
    g = np.repeat([0, 1], 40)
    X[g == 1, :, :4] += 0.4
    y = rs.randint(0, 2, 80)

    class Broken(gluon.Block):  # a forward the gradient check must catch
        def __init__(self):
            super().__init__()
            self.inner = gluon.nn.Dense(1)

        def forward(self, x):
            return _Detached()(self.inner(x))

    class _Detached(mx.autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, dy):
            return dy * 0

    net = Broken()
    net.initialize(mx.init.Xavier(), ctx=ctx)
    rep = audit(net, (X, y, g), permutations=99, bootstrap=0)
    assert rep.attribution is None and rep.occlusion is not None
    assert any("unreliable" in n for n in rep.notes)
    assert "attribution_maps" in rep.figures
    assert rep.occlusion.maps.shape == (2, 2, 2)
    page = Page()
    page.feed(rep.to_html(None))
    assert len(page.images) == len(rep.figures)


def test_multiclass_audit():
    rs = np.random.RandomState(0)
    X = rs.randn(300, 4).astype(np.float32)
    g = (X[:, 0] > 0).astype(int)
    y = rs.randint(0, 3, 300)
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Xavier())
    rep = audit(net, (X, y, g), num_classes=3, permutations=99, bootstrap=10)
    assert list(rep.significance["gap"]) == ["selection_rate", "accuracy",
                                            "true_positive_rate"]
    assert rep.attribution is not None and "group_rates" not in rep.figures
    Page().feed(rep.to_html(None))


def test_bad_inputs_are_refused_clearly(setup):
    net, X, y, g, names = setup
    kwargs = dict(permutations=9, bootstrap=0, figures=False)
    with pytest.raises(ValueError, match="single group"):
        audit(net, (X, y, np.zeros_like(g)), **kwargs)
    strings = np.where(g == 1, "m", "f")
    with pytest.raises(TypeError, match=re.escape(
            IDS_NOT_NUMERIC.format(name="groups", dtype=strings.dtype))):
        audit(net, (X, y, strings), **kwargs)
    with pytest.raises(ValueError, match=r"labels \(y\): labels must be integers in \[0, 2\), "
                       r"got values in \[0, 2\]; pass num_classes="):
        audit(net, (X, y * 2, g), **kwargs)
    with pytest.raises(TypeError, match="gluon Dataset/DataLoader"):
        audit(net, {"X": X}, **kwargs)
    with pytest.raises(ValueError, match="got 3 group_names for 2 groups"):
        audit(net, (X, y, g), group_names=["a", "b", "c"], **kwargs)


# ------------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def exported(setup, tmp_path_factory):
    """An exported model and a CSV of features, label (text), sensitive column (text)."""
    net, X, y, g, names = setup
    folder = tmp_path_factory.mktemp("cli")
    net.export(os.fspath(folder / "model"))
    frame = pd.DataFrame(X, columns=names)
    frame["income_class"] = np.where(y == 1, ">50K", "<=50K")
    frame["sex"] = np.where(g == 1, "Male", "Female")
    frame.to_csv(folder / "test.csv", index=False)
    frame.assign(sex="Female").to_csv(folder / "single.csv", index=False)
    return folder


def cli(folder, *args, module=True):
    cmd = ([sys.executable, "-m", "mxfair"] if module
           else [str(Path(sys.executable).parent / "mxfair")])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd + ["audit", *args], cwd=folder, capture_output=True, text=True,
                          env=env, timeout=300)


BASE = ["--model", "model", "--data", "test.csv", "--label", "income_class",
        "--sensitive", "sex", "--positive", ">50K", "--permutations", "199",
        "--bootstrap", "20"]


def test_cli_audits_an_exported_model_on_a_csv(exported):
    result = cli(exported, *BASE, "--out", "page.html", "--json", "page.json")
    assert result.returncode == 0, result.stderr
    assert "demographic parity difference" in result.stdout
    assert "wrote page.html, page.json" in result.stdout
    parser = Page()
    parser.feed((exported / "page.html").read_text(encoding="utf-8"))
    assert parser.sections == [anchor for anchor, _ in SECTIONS]
    data = json.loads((exported / "page.json").read_text())
    assert data["meta"]["groups"] == ["Female", "Male"]
    assert data["attribution"]["features"] == ["income", "zip", "noise"]
    ranked = sorted(zip(data["attribution"]["contributions"], data["attribution"]["features"]))
    assert ranked[-1][1] == "zip"


def test_console_script(exported):
    result = cli(exported, *BASE, "--no-attribution", module=False)
    assert result.returncode == 0, result.stderr
    assert (exported / "test-audit.html").is_file()


@pytest.mark.parametrize("args, message", [
    (["--sensitive", "gender"], "label/sensitive column(s) ['gender'] not in test.csv"),
    (["--drop", "zip"], "shape mismatch: the CSV gives 2 feature columns but the model's "
                        "first layer takes 3 inputs"),
    (["--features", "income", "zip", "noise", "zip"], "takes 3 inputs"),
    (["--data", "single.csv"], "hold a single group (Female)"),
    (["--positive", "yes"], "--positive 'yes' is not a value of label column"),
    (["--model", "nothere"], "model file 'nothere-symbol.json' does not exist"),
    (["--features", "income", "sex", "noise"], "feature column(s) ['sex'] are not numeric"),
    (["--positive", None], "pass --positive VALUE"),
    (["--ctx", "tpu"], "--ctx must be cpu, cpu:N, gpu or gpu:N"),
])
def test_cli_refuses_bad_inputs_clearly(exported, monkeypatch, capsys, args, message):
    from mxfair.auditing.cli import main

    monkeypatch.chdir(exported)
    base = list(BASE)
    flag = args[0]
    if flag in base:
        i = base.index(flag)
        del base[i:i + 2]
    if args[1:] != [None]:
        base += args
    assert main(base) == 2
    err = capsys.readouterr().err
    assert err.startswith("mxfair audit: error: ")
    assert message in err, err


def test_module_help_and_unknown_command(capsys):
    from mxfair.__main__ import main

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "audit" in out and "mxfair.launch" in out
    assert main(["train"]) == 2
    assert "unknown command 'train'" in capsys.readouterr().err
    assert main([]) == 2
