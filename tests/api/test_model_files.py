"""fastbp.save / fastbp.load: bit-exact round trips, and refusals of every file that is not one."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp import LectureClassifier, ModelFileError, model_files, schedules
from repo_paths import TEST_DATA



@pytest.fixture(scope="module")
def run(moons):
    X, y = moons
    return fastbp.train(X, y, (4, 3), num_passes=300, loss_every=10, activation="relu")


def assert_same_model(first, second):
    assert first.keys() == second.keys()
    for name in first:
        if name == "activation":
            assert first[name] == second[name]
        else:
            assert first[name].dtype == second[name].dtype
            np.testing.assert_array_equal(first[name], second[name])


def test_model_round_trip_is_bit_exact(run, tmp_path):
    path = fastbp.save(run.model, tmp_path / "model")
    assert path.endswith("model.npz")
    loaded = fastbp.load(path)
    assert isinstance(loaded, dict)
    assert_same_model(loaded, run.model)


def test_training_run_round_trip_is_bit_exact(run, tmp_path):
    loaded = fastbp.load(fastbp.save(run, tmp_path / "run.npz"))
    assert isinstance(loaded, fastbp.TrainingRun)
    assert_same_model(loaded.model, run.model)
    np.testing.assert_array_equal(loaded.losses, run.losses)
    np.testing.assert_array_equal(loaded.loss_passes, run.loss_passes)


@pytest.mark.parametrize("labels, settings", [
    (np.array(["zebra", "aardvark"]), dict(activation="logistic", schedule=schedules.StepDecay(0.5, 100))),
    (np.array([3, 7]), dict(hidden_layer_sizes=(4, 2), random_state=5, batch_size=50, schedule="inverse")),
])
def test_classifier_round_trip_predicts_and_continues_identically(moons, tmp_path, labels, settings):
    X, y = moons
    classifier = LectureClassifier(max_iter=200, warm_start=True, **settings).fit(X, labels[y])
    loaded = fastbp.load(fastbp.save(classifier, tmp_path / "classifier.npz"))
    assert isinstance(loaded, LectureClassifier)
    saved_parameters, loaded_parameters = classifier.get_params(), loaded.get_params()
    saved_schedule, loaded_schedule = saved_parameters.pop("schedule"), loaded_parameters.pop("schedule")
    assert loaded_parameters == saved_parameters
    if isinstance(saved_schedule, str):
        assert loaded_schedule == saved_schedule
    else:
        assert type(loaded_schedule) is type(saved_schedule) and vars(loaded_schedule) == vars(saved_schedule)
    np.testing.assert_array_equal(loaded.classes_, classifier.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X), classifier.predict_proba(X))
    assert loaded.loss_curve_ == classifier.loss_curve_ and loaded.n_iter_ == classifier.n_iter_
    # a loaded classifier goes on training exactly as the one saved
    classifier.fit(X, labels[y])
    loaded.fit(X, labels[y])
    for mine, theirs in zip(loaded.coefs_ + loaded.intercepts_, classifier.coefs_ + classifier.intercepts_):
        np.testing.assert_array_equal(mine, theirs)


def test_classifier_pickles(moons):
    X, y = moons
    classifier = LectureClassifier(max_iter=100, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(classifier)).predict_proba(X),
                                  classifier.predict_proba(X))


def test_saving_other_objects_is_refused(tmp_path):
    with pytest.raises(TypeError, match="model dict, a TrainingRun or a fitted LectureClassifier"):
        fastbp.save([1, 2], tmp_path / "list")
    with pytest.raises(Exception, match="not fitted"):
        fastbp.save(LectureClassifier(), tmp_path / "unfitted")


def header_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive[model_files.HEADER_MEMBER].tobytes())


def rewrite(path, header=None, arrays=None):
    """Write the archive again with a changed header or arrays (a forger's tool)."""
    with np.load(path, allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    if header is not None:
        members[model_files.HEADER_MEMBER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    members.update(arrays or {})
    np.savez(path, **members)


def test_a_pickle_file_is_refused(tmp_path, run):
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(run.model))
    with pytest.raises(ModelFileError, match="carries a pickle"):
        fastbp.load(path)


def test_an_object_array_inside_the_archive_is_refused(tmp_path, run):
    path = fastbp.save(run.model, tmp_path / "model.npz")
    header = header_of(path)
    header["arrays"]["W1"]["dtype"] = "|O"
    rewrite(path, header, {"W1": np.array([{"code": "run me"}], dtype=object)})
    with pytest.raises(ModelFileError, match="carries a pickle"):
        fastbp.load(path)


@pytest.mark.parametrize("keep_fraction", [0.0, 0.3, 0.9, 0.99])
def test_truncated_files_are_refused(tmp_path, run, keep_fraction):
    path = fastbp.save(run.model, tmp_path / "model.npz")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:int(len(data) * keep_fraction)])
    with pytest.raises(ModelFileError):
        fastbp.load(path)


@pytest.mark.parametrize("damage", ["encrypted flag", "unknown compression method"])
def test_damaged_zip_member_flags_are_refused(tmp_path, run, damage):
    """One damaged byte in a central-directory entry makes zipfile raise RuntimeError (a member
    flagged as encrypted) or NotImplementedError (a compression method it does not know): both
    are a ModelFileError, as the fuzz tests require of every damaged file."""
    path = fastbp.save(run.model, tmp_path / "model.npz")
    data = bytearray(open(path, "rb").read())
    entry = data.index(b"PK\x01\x02")  # the first central-directory entry
    if damage == "encrypted flag":
        data[entry + 8] |= 0x01  # general-purpose bit 0: encrypted
    else:
        data[entry + 10:entry + 12] = (99).to_bytes(2, "little")  # compression method 99 (AES), not supported
    open(path, "wb").write(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted"):
        fastbp.load(path)


def test_every_flipped_byte_of_the_arrays_is_detected(tmp_path, run):
    """The zip's CRC, or the header's digest when a forger fixes the CRC, catches each flip."""
    path = fastbp.save(run.model, tmp_path / "model.npz")
    original = open(path, "rb").read()
    weights = run.model["W2"].tobytes()
    start = original.index(weights)
    for offset in range(start, start + len(weights), 7):
        corrupted = bytearray(original)
        corrupted[offset] ^= 0x10
        open(path, "wb").write(bytes(corrupted))
        with pytest.raises(ModelFileError):
            fastbp.load(path)
    # a consistent zip whose W2 was changed by someone who did not update the digest
    open(path, "wb").write(original)
    changed = dict(run.model, W2=run.model["W2"].copy())
    changed["W2"][0, 0] = np.nextafter(changed["W2"][0, 0], 1)
    rewrite(path, arrays={"W2": changed["W2"]})
    with pytest.raises(ModelFileError, match="SHA-256"):
        fastbp.load(path)


def test_foreign_files_are_refused(tmp_path):
    npz = tmp_path / "foreign.npz"
    np.savez(npz, weights=np.zeros(3))
    with pytest.raises(ModelFileError, match="no fastbp_header"):
        fastbp.load(npz)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ModelFileError, match="single array"):
        fastbp.load(npy)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ModelFileError):
        fastbp.load(text)
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as archive:
        archive.writestr("fastbp_header.npy", b"not an array")
    with pytest.raises(ModelFileError):
        fastbp.load(tmp_path / "zip.npz")


@pytest.mark.parametrize("change, message", [
    (lambda h: h.update(format_version=model_files.FORMAT_VERSION + 1), "upgrade fastbp"),
    (lambda h: h.update(format="other-model"), "names format"),
    (lambda h: h.update(kind="optimizer"), "unknown kind"),
    (lambda h: h["arrays"]["W1"].update(shape=[3, 2]), "shape"),
    (lambda h: h["arrays"].pop("b1"), "not those its header lists"),
    (lambda h: h.update(layer_sizes=[2, 4, 3, 3]), "layers"),
])
def test_headers_that_do_not_describe_the_file_are_refused(tmp_path, run, change, message):
    path = fastbp.save(run.model, tmp_path / "model.npz")
    header = header_of(path)
    change(header)
    rewrite(path, header)
    with pytest.raises(ModelFileError, match=message):
        fastbp.load(path)


def test_header_is_documented_json(tmp_path, run):
    header = header_of(fastbp.save(run, tmp_path / "run.npz"))
    assert header["format"] == "fastbp-model" and header["format_version"] == 1
    assert header["fastbp_version"] == fastbp.__version__
    assert header["kind"] == "training_run" and header["activation"] == "relu"
    assert header["layer_sizes"] == [2, 4, 3, 2]
    assert set(header["arrays"]) == {"W1", "b1", "W2", "b2", "W3", "b3", "loss_passes", "losses"}


def test_a_classifier_file_written_before_the_mlp_estimators_still_loads(moons):
    # tests/data's file was written by fastbp 0.1.0's FastBPClassifier(max_iter=100, random_state=0) on
    # the moons with labels "lower"/"upper"; expected: the same fit made now by LectureClassifier
    X, y = moons
    loaded = fastbp.load(TEST_DATA / "classifier-written-by-fastbp-0.1.0.npz")
    assert isinstance(loaded, LectureClassifier)
    refit = LectureClassifier(max_iter=100, random_state=0).fit(X, np.where(y, "upper", "lower"))
    for mine, theirs in zip(loaded.coefs_ + loaded.intercepts_, refit.coefs_ + refit.intercepts_):
        np.testing.assert_array_equal(mine, theirs)
    assert loaded.loss_curve_ == refit.loss_curve_ and loaded.n_iter_ == 100
    np.testing.assert_array_equal(loaded.predict(X), refit.predict(X))
