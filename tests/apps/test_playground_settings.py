"""The playground's settings and data (fastbp/playground_app/settings.py, data.py): the text that the
page's fields and its address hold, read and written without a browser or the web libraries."""

import numpy as np
import pytest

import fastbp
from fastbp.playground_app import data as D
from fastbp.playground_app import settings as S


def test_the_lecture_preset_is_the_lectures_run():
    # the lecture's published run: make_moons(200, noise=0.20), seed 0, H = 3, epsilon 0.01, reg_lambda 0.01,
    # full batch, tanh, every point used for training, 20000 passes
    lecture = S.LECTURE
    assert (lecture.dataset, lecture.samples, lecture.noise, lecture.seed) == ("moons", 200, 0.2, 0)
    assert (lecture.hidden, lecture.activation, lecture.features) == ((3,), "tanh", ("x1", "x2"))
    assert (lecture.epsilon, lecture.l2, lecture.batch, lecture.test_percent) == (0.01, 0.01, 0, 0)
    assert (lecture.schedule, lecture.dtype, lecture.stop_at) == ("constant", "float64", 20000)
    assert lecture.speed > 0  # slowed down to be watched; the passes themselves are the same


def test_every_setting_reads_back_from_its_text():
    odd = S.Settings(dataset="spiral", noise=0.1 + 0.2, samples=1000, test_percent=30, seed=7, show_test=False,
                     hidden=(20, 20), activation="relu", features=("x1", "x2", "x1*x2", "sin(x2)"),
                     epsilon=1e-3 / 3, l2=0.0, batch=50, schedule="inverse", dtype="float32", stop_at=5000,
                     speed=300)
    for settings in (S.Settings(), S.LECTURE, odd):
        strings = S.to_strings(settings)
        assert set(strings) == set(S.NAMES)  # every setting is in the address
        assert S.parse(strings) == (settings, [])


def test_features_are_kept_in_one_order():
    settings, messages = S.parse({"features": "x1*x2, x1"})
    assert messages == [] and settings.features == ("x1", "x1*x2")


@pytest.mark.parametrize("name, text", [
    ("samples", "-5"), ("samples", str(S.MAX_SAMPLES + 1)), ("samples", "many"), ("noise", "-0.1"),
    ("noise", "nan"), ("epsilon", "0"), ("epsilon", "abc"), ("epsilon", "inf"), ("l2", "-1"),
    ("hidden", "0"), ("hidden", "3,0"), ("hidden", ",".join(["2"] * (S.MAX_LAYERS + 1))),
    ("hidden", str(S.MAX_UNITS + 1)), ("dataset", "mnist"), ("activation", "softplus"), ("features", "x3"),
    ("features", ""), ("test_percent", "95"), ("seed", "-1"), ("seed", str(2**32)), ("show_test", "maybe"),
    ("schedule", "cosine"), ("dtype", "float16"), ("stop_at", "-1"), ("batch", "-2"), ("speed", "-3"),
    ("speed", "fast")])
def test_a_bad_value_is_named_and_the_previous_one_kept(name, text):
    before = S.Settings(seed=3)
    settings, messages = S.parse({name: text}, fallback=before)
    assert settings == before
    assert len(messages) == 1 and messages[0].startswith(S.LABELS[name] + ":"), messages


def test_a_batch_larger_than_the_training_points_is_refused():
    # 200 samples with 20% held out leave 160 training points
    settings, messages = S.parse({"batch": "161"})
    assert settings.batch == 0 and "160 training points" in messages[0]
    assert S.parse({"batch": "160"}) == (S.Settings(batch=160), [])


def test_unknown_names_in_the_address_are_named_and_ignored():
    settings, messages = S.parse({"hiddne": "5", "seed": "4"})
    assert settings == S.Settings(seed=4)
    assert len(messages) == 1 and "'hiddne'" in messages[0]


def test_the_address_query_is_read_as_a_web_server_parses_it():
    query = {"hidden": [b"20,20"], "seed": [b"1", b"2"], "dataset": "xor"}
    assert S.query_to_strings(query) == {"hidden": "20,20", "seed": "2", "dataset": "xor"}


def test_the_lecture_presets_points_are_the_lectures():
    data = D.make_data(S.LECTURE)
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    np.testing.assert_array_equal(data.X_train, X)
    np.testing.assert_array_equal(data.y_train, y)
    np.testing.assert_array_equal(D.features(data.X_train, ("x1", "x2")), X)
    assert len(data.X_test) == 0


@pytest.mark.parametrize("dataset, classes", [("moons", 2), ("spiral", 2), ("circles", 2), ("xor", 2), ("blobs", 3)])
def test_every_data_set_has_the_points_asked_for_split_by_the_test_share(dataset, classes):
    settings = S.Settings(dataset=dataset, samples=301, test_percent=30)
    data = D.make_data(settings)
    assert len(data.X_train) + len(data.X_test) == 301 and len(data.X_test) == 301 * 30 // 100
    assert data.num_classes == classes and set(data.y_train.tolist()) == set(range(classes))
    # the same seed draws the same points; another draws others
    np.testing.assert_array_equal(D.make_data(settings).X_train, data.X_train)
    assert not np.array_equal(D.make_data(S.Settings(dataset=dataset, samples=301, test_percent=30, seed=1)).X_train,
                              data.X_train)


def test_a_split_that_leaves_a_class_out_of_training_is_refused():
    with pytest.raises(D.DataError, match="no point of class"):
        D.make_data(S.Settings(dataset="blobs", samples=10, test_percent=90))


def test_the_input_features_are_the_named_functions_of_the_coordinates():
    X = np.array([[0.5, -2.0], [1.5, 3.0]])
    got = D.features(X, S.FEATURES)
    expected = np.column_stack([X[:, 0], X[:, 1], X[:, 0] ** 2, X[:, 1] ** 2, X[:, 0] * X[:, 1],
                                np.sin(X[:, 0]), np.sin(X[:, 1])])
    np.testing.assert_array_equal(got, expected)
