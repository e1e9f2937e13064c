"""Tests of mxfair.datasets.tabular: parsing, checksums, lookup order, splits, encoding."""
import gzip
import hashlib
import shutil

import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from mxnet import gluon

from mxfair import GroupEncoder
from mxfair.datasets import (
    DATA_ENV,
    TabularData,
    _files,
    find_data_file,
    load_adult,
    load_compas,
    load_german,
    load_tabular,
    tabular,
)

SHIPPED = _files.PACKAGE_DATA

# sha256 of the uncompressed files, as published by their sources.
SOURCE_SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
    "german.data": "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871",
}


@pytest.fixture(autouse=True)
def _isolated_places(tmp_path_factory, monkeypatch):
    """No $MXFAIR_DATA and an empty home: only root= and the shipped copies are found."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


def _count_adult(path):
    """Independent oracle: (rows without '?', rows with income >50K) of a raw Adult file."""
    rows = positives = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            fields = [x.strip() for x in line.strip().split(",")]
            if len(fields) != 15 or "?" in fields:
                continue
            rows += 1
            positives += fields[-1].rstrip(".") == ">50K"
    return rows, positives


def _adult_line(i, sex, label, missing=False):
    return ", ".join([
        str(20 + i), "?" if missing else "Private", str(100000 + i), "Bachelors", "13",
        "Never-married", "Sales", "Not-in-family", "White" if i % 2 else "Black", sex,
        "0", "0", str(30 + i), "United-States", ">50K" if label else "<=50K",
    ])


def _write_tiny_adult(folder, n_train=12, n_test=6):
    """A hand-written Adult in the raw format: one '?' row each, test labels end in '.'."""
    folder.mkdir(parents=True, exist_ok=True)
    train = [_adult_line(i, "Female" if i % 2 else "Male", i % 3 == 0) for i in range(n_train)]
    train.append(_adult_line(99, "Male", 1, missing=True))
    test = [_adult_line(i, "Male" if i % 2 else "Female", i % 2) + "." for i in range(n_test)]
    test.append(_adult_line(98, "Female", 0, missing=True) + ".")
    (folder / "adult.data").write_text("\n".join(train) + "\n\n")
    with gzip.open(folder / "adult.test.gz", "wt") as f:
        f.write("|1x3 Cross validator\n" + "\n".join(test) + "\n")
    return folder


# ---------------------------------------------------------------------------------- checksums
@pytest.mark.parametrize("name", sorted(SOURCE_SHA256))
def test_shipped_copies_match_published_checksums(name):
    content = gzip.decompress((SHIPPED / (name + ".gz")).read_bytes())
    assert hashlib.sha256(content).hexdigest() == SOURCE_SHA256[name]
    assert _files.FILES[name].sha256 == SOURCE_SHA256[name]


def test_shipped_copies_equal_shared_raw_files(shared_data):
    if shared_data is None:
        pytest.skip("$MXFAIR_SHARED_DATA (the raw data folder) is not set")
    for name in SOURCE_SHA256:
        raw = shared_data / name
        raw = raw if raw.exists() else shared_data / (name + ".gz")
        ours = _files.read_content(SHIPPED / (name + ".gz"), SOURCE_SHA256[name], True)
        theirs = _files.read_content(raw, SOURCE_SHA256[name], True)
        assert ours == theirs


# -------------------------------------------------------------------------------------- Adult
@pytest.fixture(scope="module")
def adult_full():
    """The whole of Adult (the training-loop tests share a subsample: conftest's ``adult``)."""
    return load_adult(download=False)


def test_adult_row_counts_and_labels(adult_full):
    assert len(adult_full.train) + len(adult_full.val) == 30162
    assert len(adult_full.test) == 15060
    rows, pos = _count_adult(SHIPPED / "adult.data.gz")
    assert rows == 30162
    assert adult_full.train.y.sum() + adult_full.val.y.sum() == pos
    rows, pos = _count_adult(SHIPPED / "adult.test.gz")
    assert (rows, int(adult_full.test.y.sum())) == (15060, pos)
    # the stratified validation split keeps the label balance and the 20 % share
    assert abs(len(adult_full.val) / 30162 - 0.2) < 1e-3
    assert abs(adult_full.train.y.mean() - adult_full.val.y.mean()) < 2e-3
    assert 0.2 < adult_full.train.y.mean() < 0.3


def test_adult_arrays_and_names(adult_full):
    assert isinstance(adult_full, TabularData)
    assert adult_full.group_names == ["Female", "Male"]
    assert adult_full.sensitive == ["sex"]
    assert "fnlwgt" not in adult_full.feature_names
    assert not any(f.startswith("sex_") for f in adult_full.feature_names)
    for s in (adult_full.train, adult_full.val, adult_full.test):
        assert s.X.dtype == np.float32 and s.X.ndim == 2
        assert s.X.shape[1] == adult_full.num_features == len(adult_full.feature_names)
        assert s.y.dtype == np.int64 and s.groups.dtype == np.int64
        assert set(np.unique(s.y)) == {0, 1}
        assert set(np.unique(s.groups)) == {0, 1}
        np.testing.assert_array_equal(
            np.array(adult_full.group_names)[s.groups], s.frame["sex"].to_numpy()
        )
        assert np.isfinite(s.X).all()


def test_adult_preprocessing_fitted_on_train_only(adult_full):
    scaler = adult_full.preprocessor.named_transformers_["num"]
    num_cols = list(scaler.feature_names_in_)
    train_mean = adult_full.train.frame[num_cols].mean().to_numpy()
    np.testing.assert_allclose(scaler.mean_, train_mean, rtol=1e-10)
    all_rows = pd.concat([adult_full.train.frame, adult_full.val.frame, adult_full.test.frame])
    assert not np.allclose(scaler.mean_, all_rows[num_cols].mean().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(adult_full.train.X[:, : len(num_cols)].mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(adult_full.train.X[:, : len(num_cols)].std(0), 1, atol=1e-3)
    onehot = adult_full.preprocessor.named_transformers_["cat"]
    for col, cats in zip(onehot.feature_names_in_, onehot.categories_):
        assert sorted(cats) == sorted(adult_full.train.frame[col].unique())


def test_adult_onehot_ignores_categories_missing_from_train():
    data = load_adult(subsample=200, download=False)
    onehot = data.preprocessor.named_transformers_["cat"]
    countries = list(onehot.categories_[list(onehot.feature_names_in_).index("native-country")])
    unseen = ~data.test.frame["native-country"].isin(countries).to_numpy()
    assert unseen.any(), "expected a test country absent from 200 training rows"
    cols = [i for i, f in enumerate(data.feature_names) if f.startswith("native-country_")]
    assert (data.test.X[unseen][:, cols] == 0).all()


def test_adult_race_and_intersectional_groups():
    race = load_adult(sensitive="race", subsample=2000, download=False)
    assert race.group_names == sorted(race.train.frame["race"].unique())
    assert any(f.startswith("sex_") for f in race.feature_names)
    assert not any(f.startswith("race_") for f in race.feature_names)

    both = load_adult(sensitive=["sex", "race"], subsample=3000, download=False)
    assert both.num_groups == 10
    assert both.group_names[0] == "sex=Female&race=Amer-Indian-Eskimo"
    frame = both.test.frame
    expected = ("sex=" + frame["sex"] + "&race=" + frame["race"]).to_numpy()
    np.testing.assert_array_equal(np.array(both.group_names)[both.test.groups], expected)
    assert isinstance(both.encoder, GroupEncoder)
    assert not any(f.startswith(("sex_", "race_")) for f in both.feature_names)


def test_adult_include_sensitive_keeps_the_column():
    data = load_adult(subsample=300, include_sensitive=True, download=False)
    assert {"sex_Female", "sex_Male"} <= set(data.feature_names)


def test_adult_seeded_splits_and_subsample():
    a = load_adult(seed=3, subsample=500, download=False)
    b = load_adult(seed=3, subsample=500, download=False)
    c = load_adult(seed=4, subsample=500, download=False)
    assert [len(a.train), len(a.val), len(a.test)] == [500, 500, 500]
    np.testing.assert_array_equal(a.train.X, b.train.X)
    np.testing.assert_array_equal(a.test.groups, b.test.groups)
    assert not np.array_equal(a.train.frame["age"], c.train.frame["age"])


def test_val_split_stratified_by_group_and_label(adult_full):
    for g in range(2):
        for y in range(2):
            n_train = np.sum((adult_full.train.groups == g) & (adult_full.train.y == y))
            n_val = np.sum((adult_full.val.groups == g) & (adult_full.val.y == y))
            assert abs(n_val - 0.2 * (n_train + n_val)) <= 0.5


def test_val_fraction_zero_gives_an_empty_split():
    data = load_german(val_fraction=0.0, download=False)
    assert len(data.val) == 0
    assert data.val.X.shape == (0, data.num_features)
    assert len(data.train) + len(data.test) == 1000


def test_to_gluon_yields_x_y_group(ctx):
    data = load_adult(subsample=64, download=False)
    ds = data.to_gluon(split="val")
    assert isinstance(ds, gluon.data.ArrayDataset) and len(ds) == 64
    x, y, g = ds[5]
    np.testing.assert_array_equal(x, data.val.X[5])
    assert (y, g) == (data.val.y[5], data.val.groups[5])
    batch = next(iter(gluon.data.DataLoader(ds, batch_size=16)))
    xb, yb, gb = (b.as_in_context(ctx) for b in batch)
    assert xb.shape == (16, data.num_features) and xb.dtype == np.float32
    assert yb.dtype == np.float32 and gb.dtype == np.int64  # float labels for Gluon's losses
    assert xb.context == ctx
    np.testing.assert_array_equal(gb.asnumpy(), data.val.groups[:16])
    assert isinstance(xb, mx.nd.NDArray)


def test_to_gluon_trains_with_the_stock_loss_and_a_plain_estimator(ctx):
    # main: int64 labels; SigmoidBinaryCrossEntropyLoss and a plain Estimator failed with an
    # MXNetError that never mentioned the label
    from mxnet.gluon.contrib.estimator import Estimator

    data = load_german(subsample=200, download=False)
    loader = gluon.data.DataLoader(data.to_gluon(split="train"), batch_size=50)
    net = gluon.nn.Dense(1)
    net.initialize(ctx=ctx)
    loss_fn = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    x, y, _ = next(iter(loader))
    assert loss_fn(net(x.as_in_context(ctx)), y.as_in_context(ctx)).shape == (50,)
    est = Estimator(net, loss_fn, train_metrics=mx.metric.Loss("bce"),
                    trainer=gluon.Trainer(net.collect_params(), "sgd"), context=ctx)
    est.logger.disabled = True
    est.fit(loader, epochs=1)  # the default BatchProcessor reads x, y of each batch
    assert np.isfinite(est.train_metrics[0].get()[1])


@pytest.mark.parametrize("loader, name", [(load_adult, "adult.data"),
                                          (load_german, "german.data")])
def test_a_binary_file_is_a_clear_error(tmp_path, loader, name):
    # main with verify=False: UnicodeDecodeError from deep in pandas
    (tmp_path / name).write_bytes(bytes(range(256)) * 20)
    (tmp_path / "adult.test").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    with pytest.raises(ValueError, match="checksum mismatch"):
        loader(root=tmp_path)
    with pytest.raises(ValueError, match=r"does not look like the .* data: binary content, not "
                                         r"a text file"):
        loader(root=tmp_path, verify=False)


@pytest.mark.parametrize("seed", [np.int64(3), [3, 1], None])
def test_seeds_take_what_numpy_takes(seed):
    data = load_german(seed=seed, subsample=50, download=False)  # main: TypeError
    assert len(data.train) == 50
    if seed is not None:
        again = load_german(seed=seed, subsample=50, download=False)
        np.testing.assert_array_equal(data.train.X, again.train.X)
    with pytest.raises(TypeError, match="seed must be None, an int"):
        load_german(seed="3", download=False)


# ------------------------------------------------------------------------------ file lookups
def test_bad_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_adult(root=tmp_path / "nowhere")


def test_missing_file_in_root_says_what_to_put_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'adult.data' not found.*Put the file"):
        load_adult(root=tmp_path)


def test_missing_compas_offline_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        load_compas(download=False)
    msg = str(err.value)
    assert "compas-scores-two-years.csv" in msg and str(tmp_path) in msg
    assert "compas-analysis" in msg


def test_corrupt_file_names_file_and_both_hashes(tmp_path):
    content = gzip.decompress((SHIPPED / "adult.data.gz").read_bytes())
    bad = content.replace(b"State-gov", b"State-gox", 1)
    (tmp_path / "adult.data.gz").write_bytes(gzip.compress(bad))
    shutil.copy(SHIPPED / "adult.test.gz", tmp_path)
    with pytest.raises(ValueError, match="checksum mismatch") as err:
        load_adult(root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "adult.data.gz") in msg
    assert hashlib.sha256(bad).hexdigest() in msg and SOURCE_SHA256["adult.data"] in msg


def test_broken_gzip_is_a_clear_error(tmp_path):
    data = (SHIPPED / "german.data.gz").read_bytes()
    (tmp_path / "german.data.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="could not decompress .*german.data.gz"):
        load_german(root=tmp_path)


def test_lookup_order_root_env_cache_shipped(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    cache = _write_tiny_adult(home / ".mxfair" / "datasets", n_train=14)
    env = _write_tiny_adult(tmp_path / "env", n_train=10)
    root = _write_tiny_adult(tmp_path / "root", n_train=8)

    def n_rows(**kw):
        d = load_adult(verify=False, val_fraction=0.25, download=False, **kw)
        return len(d.train) + len(d.val)

    # the shipped copies verify; the tiny files do not
    monkeypatch.setenv(DATA_ENV, str(env))
    assert n_rows(root=root) == 8
    assert n_rows() == 10
    assert find_data_file("adult.data") == env / "adult.data"
    monkeypatch.delenv(DATA_ENV)
    assert n_rows() == 14
    assert find_data_file("adult.test") == cache / "adult.test.gz"
    shutil.rmtree(cache)
    assert find_data_file("adult.data", download=False) == SHIPPED / "adult.data.gz"
    # with verify on, the hand-written file is refused
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_adult(root=root)


def test_tiny_adult_parse(tmp_path):
    root = _write_tiny_adult(tmp_path, n_train=12, n_test=6)
    data = load_adult(root=root, verify=False, val_fraction=0.25)
    assert len(data.train) + len(data.val) == 12 and len(data.test) == 6
    assert data.test.y.tolist() == [i % 2 for i in range(6)]
    assert data.test.frame["age"].tolist() == [20.0 + i for i in range(6)]


def test_argument_errors():
    with pytest.raises(ValueError, match="sensitive must be one of"):
        load_adult(sensitive="age")
    with pytest.raises(TypeError, match="sensitive must be a column name"):
        load_adult(sensitive=[])
    with pytest.raises(ValueError, match="val_fraction must be a number in"):
        load_adult(val_fraction=1.0)
    with pytest.raises(ValueError, match="subsample must be a positive integer"):
        load_german(subsample=0)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
        load_german(val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="name must be one of"):
        find_data_file("iris.data")
    with pytest.raises(ValueError, match="split must be one of"):
        load_german().to_gluon(split="dev")


# ------------------------------------------------------------------------------------- German
def test_german_counts_labels_and_split():
    data = load_german(download=False)
    assert (len(data.train), len(data.val), len(data.test)) == (600, 200, 200)
    y = np.concatenate([data.train.y, data.val.y, data.test.y])
    assert y.sum() == 700  # 700 good (code 1), 300 bad (code 2)
    raw = gzip.decompress((SHIPPED / "german.data.gz").read_bytes()).decode().split("\n")
    codes = [line.split()[-1] for line in raw if line.strip()]
    assert codes.count("1") == 700
    for s in (data.train, data.val, data.test):
        assert abs(s.y.mean() - 0.7) < 0.01
    assert data.group_names == ["age<=25", "age>25"]
    ages = data.train.frame["age"].to_numpy()
    np.testing.assert_array_equal(data.train.groups, (ages > 25).astype(np.int64))
    assert "age" not in data.feature_names
    # 6 numeric columns (age is out) + one column per symbolic code seen in training
    codes = sum(data.train.frame[c].nunique() for c in tabular._GERMAN_CATEGORICAL)
    assert data.num_features == 6 + codes
    assert load_german(include_sensitive=True).num_features == 7 + codes


def test_german_sex_from_attribute_9():
    data = load_german(sensitive="sex", download=False)
    assert data.group_names == ["female", "male"]
    codes = data.test.frame["personal_status_sex"].to_numpy()
    female = np.isin(codes, ["A92", "A95"])
    np.testing.assert_array_equal(data.test.groups, np.where(female, 0, 1))
    assert not any(f.startswith("personal_status_sex") for f in data.feature_names)
    assert "age" in data.feature_names


def test_german_seeds():
    a, b = load_german(seed=1), load_german(seed=1)
    c = load_german(seed=2)
    np.testing.assert_array_equal(a.test.X, b.test.X)
    assert not np.array_equal(a.test.frame["credit_amount"], c.test.frame["credit_amount"])


# ------------------------------------------------------------------------------------- COMPAS
COMPAS_COLUMNS = [
    "id", "sex", "age", "race", "juv_fel_count", "decile_score", "juv_misd_count",
    "juv_other_count", "priors_count", "days_b_screening_arrest", "c_charge_degree",
    "is_recid", "score_text", "priors_count", "two_year_recid",
]


def _write_compas_fixture(folder):
    """A hand-written COMPAS file: 40 rows that pass ProPublica's filter and 6 that do not."""
    races = ["African-American", "Caucasian", "Hispanic", "African-American", "Caucasian"]
    rows = []
    for i in range(40):
        rows.append([
            i, "Male" if i % 3 else "Female", 20 + i, races[i % 5], i % 2, 5, 0, i % 4 == 0,
            i % 7, (i % 61) - 30, "F" if i % 2 else "M", i % 2, "Low", i % 7, (i // 2) % 2,
        ])
    bad = [
        ("days_b_screening_arrest", 31), ("days_b_screening_arrest", -31),
        ("days_b_screening_arrest", ""), ("is_recid", -1), ("c_charge_degree", "O"),
        ("score_text", "N/A"),
    ]
    for j, (col, value) in enumerate(bad):
        row = list(rows[j])
        row[0] = 100 + j
        row[COMPAS_COLUMNS.index(col)] = value
        rows.append(row)
    lines = [",".join(COMPAS_COLUMNS)] + [",".join(str(int(v)) if isinstance(v, bool) else str(v)
                                                  for v in r) for r in rows]
    path = folder / "compas-scores-two-years.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compas_parser_on_fixture(tmp_path):
    _write_compas_fixture(tmp_path)
    data = load_compas(root=tmp_path, verify=False, races=None)
    frames = pd.concat([data.train.frame, data.val.frame, data.test.frame])
    assert len(frames) == 40  # the 6 rows that fail the filter are gone
    assert frames["age"].max() == 59
    assert data.group_names == ["African-American", "Caucasian", "Hispanic"]
    assert not any(f.startswith("race_") for f in data.feature_names)
    assert {"priors_count", "c_charge_degree_F", "sex_Male"} <= set(data.feature_names)

    two = load_compas(root=tmp_path, verify=False)
    assert two.group_names == ["African-American", "Caucasian"]
    assert len(two.train) + len(two.val) + len(two.test) == 32
    by_sex = load_compas(root=tmp_path, verify=False, sensitive="sex")
    assert by_sex.group_names == ["Female", "Male"]
    assert {"race_African-American", "race_Caucasian"} <= set(by_sex.feature_names)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_compas(root=tmp_path)
    with pytest.raises(ValueError, match="races must be values of the race column"):
        load_compas(root=tmp_path, verify=False, races=["Martian"])


def test_compas_missing_columns_is_a_clear_error(tmp_path):
    (tmp_path / "compas-scores-two-years.csv").write_text("id,sex\n1,Male\n")
    with pytest.raises(ValueError, match="does not look like the COMPAS data: missing columns"):
        load_compas(root=tmp_path, verify=False)


def test_compas_real_file(shared_data):
    if shared_data is None:
        pytest.skip("$MXFAIR_SHARED_DATA is not set; the fixture test covers the parser")
    data = load_compas(root=shared_data, races=None)
    assert len(data.train) + len(data.val) + len(data.test) == 6172
    y = np.concatenate([data.train.y, data.val.y, data.test.y])
    assert 0.4 < y.mean() < 0.5
    two = load_compas(root=shared_data)
    assert len(two.train) + len(two.val) + len(two.test) == 5278
    for s in (two.train, two.val, two.test):
        assert s.X.dtype == np.float32 and s.groups.max() == 1


# ------------------------------------------------------------------------------ the demo job
# ----------------------------------------------------------- download (from a loopback server)
@pytest.fixture
def local_server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; stopped after the test."""
    import functools
    import http.server
    import threading

    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_download_into_cache_when_found_nowhere(tmp_path, monkeypatch, local_server):
    served, url = local_server
    content = gzip.decompress((SHIPPED / "german.data.gz").read_bytes())
    (served / "german.data").write_bytes(content)
    spec = _files.FILES["german.data"]
    monkeypatch.setitem(_files.FILES, "german.data",
                        _files.RawFile(spec.name, spec.sha256, url + "german.data"))
    monkeypatch.setattr(_files, "PACKAGE_DATA", tmp_path / "no-shipped-copies")
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))

    with pytest.raises(FileNotFoundError, match="'german.data' not found"):
        load_german(download=False)
    data = load_german()
    cached = home / ".mxfair" / "datasets" / "german.data"
    assert cached.read_bytes() == content
    assert len(data.train) + len(data.val) + len(data.test) == 1000
    # $MXFAIR_DATA, when set, is where downloads go
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    cached.unlink()
    assert find_data_file("german.data") == tmp_path / "env" / "german.data"


def test_download_with_bad_checksum_or_no_server(tmp_path, monkeypatch, local_server):
    served, url = local_server
    (served / "german.data").write_bytes(b"A11 6 A34\n")
    spec = _files.FILES["german.data"]
    monkeypatch.setitem(_files.FILES, "german.data",
                        _files.RawFile(spec.name, spec.sha256, url + "german.data"))
    monkeypatch.setattr(_files, "PACKAGE_DATA", tmp_path / "no-shipped-copies")
    with pytest.raises(FileNotFoundError, match="Downloading .* failed: checksum mismatch"):
        find_data_file("german.data")
    assert not (tabular.cache_dir() / "german.data").exists()
    monkeypatch.setitem(_files.FILES, "german.data",
                        _files.RawFile(spec.name, spec.sha256, url + "missing"))
    with pytest.raises(FileNotFoundError, match="Downloading .* failed: HTTP Error 404"):
        find_data_file("german.data")


def test_every_data_set_is_one_spec_and_loads_by_name():
    assert sorted(tabular.TABULAR_LOADERS) == ["adult", "compas", "german"]
    german = load_tabular("german", sensitive=["sex"], subsample=40)
    assert german.name == "german" and german.sensitive == ["sex"]
    assert german.group_names == load_german(sensitive="sex", subsample=40).group_names
    with pytest.raises(ValueError, match="name must be one of"):
        load_tabular("credit")
    with pytest.raises(TypeError, match="positional"):
        load_german(None)  # options are keyword-only
