"""Fuzzed model files (issue 11): truncations, flipped bytes, headers whose
shapes, dtypes, kind or format version are wrong, members replaced, pickles
disguised as models. fastbp.load runs in a child process (tests/fuzz_worker.py);
every outcome must be a ModelFileError, or, where the damage missed everything
the file's meaning depends on (a zip timestamp, say), the very object saved.
No pickle is ever run: the pickles here would create a marker file if one were.
"""

import collections
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastbp
from fastbp import model_files

from fuzz_worker import ChildCrashed, Worker, report_outcomes

EXAMPLES = 800
OUTCOMES = collections.Counter()


class CreatesAFileWhenUnpickled:
    """Unpickling this calls open(path, "w"): the marker file appears if a pickle is ever loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def child():
    worker = Worker()
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """-> {kind: (object saved, the file's bytes, its members)} for each kind of model file."""
    from fastbp import FastBPClassifier, FastBPRegressor, LectureClassifier
    tmp = tmp_path_factory.mktemp("model-files")
    X, y = fastbp.datasets.make_moons(60, noise=0.2, seed=0)
    run = fastbp.train(X, y, (3, 2), num_passes=20, loss_every=5, activation="relu")
    classifier = LectureClassifier(max_iter=20, random_state=0, dtype="float32").fit(X, np.where(y, "cat", "dog"))
    files = {}
    mlp_classifier = FastBPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, early_stopping=True,
                                      validation_fraction=0.2).fit(X.astype(np.float32), np.where(y, "cat", "dog"))
    mlp_regressor = FastBPRegressor(hidden_layer_sizes=(3,), solver="sgd", learning_rate="adaptive", max_iter=3,
                                    random_state=np.random.RandomState(0)).fit(X, X[:, 0] * y)
    for kind, obj in (("model", run.model), ("training_run", run), ("classifier", classifier),
                      ("mlp_classifier", mlp_classifier), ("mlp_regressor", mlp_regressor)):
        path = fastbp.save(obj, str(tmp / ("%s.npz" % kind)))
        with open(path, "rb") as file:
            content = file.read()
        with np.load(path) as archive:
            members = {name: archive[name] for name in archive.files}
        files[kind] = (obj, content, members)
    return files


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    return str(tmp_path_factory.mktemp("marker") / "a pickle was run")


def archive_bytes(members, pickles=False):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in members.items():
            member = io.BytesIO()
            if isinstance(value, bytes):
                member.write(value)
            else:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=pickles)
            archive.writestr(name + ".npy", member.getvalue())
    return buffer.getvalue()


def header_of(members):
    return json.loads(members[model_files.HEADER_MEMBER].tobytes().decode())


def with_header(members, header):
    encoded = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    return dict(members, **{model_files.HEADER_MEMBER: encoded})


# ---------------------------------------------------------------- the damage

HEADER_CHANGES = {
    "format_version": st.sampled_from([model_files.FORMAT_VERSION + 1, 99, 0, -1, "1", None, 1.5, True]),
    "format": st.sampled_from(["fastbp-model2", "", None, 3]),
    "kind": st.sampled_from(["models", "", None, ["model"], "training_run", "classifier", "model",
                             "mlp_classifier", "mlp_regressor"]),
    "activation": st.sampled_from(["softplus", None, 1]),  # another valid one would be a different, valid file
    "layer_sizes": st.sampled_from([[2, 3, 3], [2, 3, 2, 2], [], None, "2,3", [-2, 3, 2, 2]]),
}
ARRAY_CHANGES = ["dtype", "shape", "sha256", "drop", "not an object"]
MEMBER_CHANGES = ["wrong dtype", "wrong shape", "object array with a pickle", "not npy", "scalar", "drop",
                  "extra member", "complex", "NaN"]


@st.composite
def damaged_files(draw, originals, marker):
    """-> (kind, bytes of a damaged file, what was done)."""
    kind = draw(st.sampled_from(sorted(originals)))
    _, content, members = originals[kind]
    how = draw(st.sampled_from(["truncate", "flip", "flip", "header", "array entry", "member", "pickle",
                                "future version"]))
    if how == "truncate":
        keep = draw(st.integers(0, len(content) - 1))
        return kind, content[:keep], "truncated to %d of %d bytes" % (keep, len(content))
    if how == "flip":
        flips = draw(st.lists(st.tuples(st.integers(0, len(content) - 1), st.integers(1, 255)), min_size=1,
                              max_size=4))
        damaged = bytearray(content)
        for position, mask in flips:
            damaged[position] ^= mask
        return kind, bytes(damaged), "bytes flipped (position, xor): %s" % flips
    header = header_of(members)
    if how == "future version":
        header["format_version"] = model_files.FORMAT_VERSION + draw(st.integers(1, 10**6))
        return kind, archive_bytes(with_header(members, header)), "format version %r" % header["format_version"]
    if how == "header":
        key = draw(st.sampled_from(sorted(HEADER_CHANGES)))
        header[key] = draw(HEADER_CHANGES[key])
        return kind, archive_bytes(with_header(members, header)), "header %s = %r" % (key, header[key])
    names = sorted(header["arrays"])
    name = draw(st.sampled_from(names))
    if how == "array entry":
        change = draw(st.sampled_from(ARRAY_CHANGES))
        entry = header["arrays"][name]
        if change == "dtype":
            entry["dtype"] = draw(st.sampled_from(["<f4", "<f8", "|O", "<c16", ">f8", "nonsense", 3]))
        elif change == "shape":
            entry["shape"] = draw(st.sampled_from([[1], [], [3, 3], [10**12, 10**12], [-1, 2], "3"]))
        elif change == "sha256":
            entry["sha256"] = "0" * 64
        elif change == "drop":
            del header["arrays"][name]
        else:
            header["arrays"][name] = [entry]
        return kind, archive_bytes(with_header(members, header)), "header entry of %s: %s" % (name, change)
    if how == "member":
        change = draw(st.sampled_from(MEMBER_CHANGES))
        value = members[name]
        changed = dict(members)
        if change == "wrong dtype":
            if value.dtype.kind == "U":  # text: another width
                changed[name] = value.astype("U%d" % (value.dtype.itemsize // 4 + 1))
            else:
                changed[name] = value.astype(np.float32 if value.dtype != np.float32 else np.float64)
        elif change == "wrong shape":
            changed[name] = value.reshape(-1)[:max(1, value.size - 1)]
        elif change == "object array with a pickle":
            changed[name] = np.array([CreatesAFileWhenUnpickled(marker)], dtype=object)
        elif change == "not npy":
            changed[name] = b"not an array"
        elif change == "scalar":
            changed[name] = np.float64(1.0)
        elif change == "drop":
            del changed[name]
        elif change == "extra member":
            changed["W9"] = np.zeros((2, 2))
        elif change == "complex":
            changed[name] = value.astype(complex) if value.dtype.kind in "fi" else value
        else:
            if value.dtype.kind == "f":
                changed[name] = value.copy()
                changed[name].flat[0] = np.nan
        return kind, archive_bytes(changed, pickles=True), "member %s: %s" % (name, change)
    # a pickle disguised as a model: the whole file, or the header member
    payload = pickle.dumps(CreatesAFileWhenUnpickled(marker), protocol=draw(st.integers(0, 5)))
    if draw(st.booleans()):
        return kind, payload, "a pickle as the whole file"
    return kind, archive_bytes(dict(members, **{model_files.HEADER_MEMBER: np.array(
        [CreatesAFileWhenUnpickled(marker)], dtype=object)}), pickles=True), "a pickle as the header"


def assert_same_object(loaded, original):
    if isinstance(original, dict):
        assert loaded.keys() == original.keys()
        for name in original:
            np.testing.assert_array_equal(loaded[name], original[name])
    elif isinstance(original, fastbp.TrainingRun):
        assert_same_object(loaded.model, original.model)
        np.testing.assert_array_equal(loaded.losses, original.losses)
        np.testing.assert_array_equal(loaded.loss_passes, original.loss_passes)
    else:
        np.testing.assert_array_equal(getattr(loaded, "classes_", None), getattr(original, "classes_", None))
        for mine, theirs in zip(loaded.coefs_ + loaded.intercepts_, original.coefs_ + original.intercepts_):
            np.testing.assert_array_equal(mine, theirs)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_damaged_file_is_a_clear_error_or_the_object_saved(child, originals, marker, data):
    kind, content, what = data.draw(damaged_files(originals, marker))
    try:
        answer = child.call("load_bytes", content)
    except ChildCrashed as crash:
        raise AssertionError("load crashed the process (%s) on a %s file, %s" % (crash, kind, what)) from None
    assert not os.path.exists(marker), "a pickle was run: %s file, %s" % (kind, what)
    if answer[0] == "result":
        OUTCOMES["the object saved"] += 1
        assert_same_object(answer[1], originals[kind][0])
        return
    _, name, mro, message, trace, _ = answer
    OUTCOMES[name] += 1
    assert name == "ModelFileError", "%s file, %s: %s: %s\n%s" % (kind, what, name, message, trace)
    assert message


def test_report_the_outcomes(capsys):
    report_outcomes("test_model_file_fuzz", OUTCOMES, capsys)
    assert sum(OUTCOMES.values()) >= EXAMPLES
    assert OUTCOMES["ModelFileError"] >= EXAMPLES // 2
