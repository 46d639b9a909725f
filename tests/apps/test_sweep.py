"""fastbp.sweep and `fastbp sweep`: the grid's rows, the same on every kind of worker."""

import numpy as np
import pytest

import fastbp
from fastbp import cli, diagnostics, lecture, sweeps, trainer

SMALL_GRID = dict(hidden=[1, 3], epsilon=[0.01, 0.002], seed=[0, 1], passes=lecture.MIN_PASSES)
# A closed port on loopback: nothing answers, so the client's connection attempts run into the timeout.
UNREACHABLE_SCHEDULER = "tcp://127.0.0.1:9"


def without_seconds(rows):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


@pytest.fixture(scope="module")
def local_rows():
    return sweeps.sweep(**SMALL_GRID)


def test_rows_are_the_networks_trained_one_by_one(local_rows):
    settings = [(h, e, s) for h in (1, 3) for e in (0.01, 0.002) for s in (0, 1)]
    assert [(row["hidden"], row["epsilon"], row["seed"]) for row in local_rows] == settings
    for row in local_rows:
        X, y = fastbp.datasets.make_moons(200, noise=0.2, seed=row["seed"])
        X_test, y_test = fastbp.datasets.make_moons(200, noise=0.2, seed=row["seed"] + 1)
        run = fastbp.train(X, y, row["hidden"], num_passes=lecture.MIN_PASSES, epsilon=row["epsilon"], seed=row["seed"],
                           loss_every=lecture.RECORD_EVERY)
        assert row["activation"] == "tanh"
        assert row["final_loss"] == fastbp.calculate_loss(run.model, X, y, 0.01)
        assert row["train_accuracy"] == np.mean(fastbp.predict(run.model, X) == y)
        assert row["test_accuracy"] == np.mean(fastbp.predict(run.model, X_test) == y_test)
        assert row["run_class"] == diagnostics.TOO_SHORT  # 200 passes: the window would be the early descent
        assert row["seconds"] > 0


@pytest.mark.parametrize("n_jobs, backend", [(2, "threads"), (2, "processes")])
def test_parallel_workers_give_the_serial_rows(local_rows, n_jobs, backend):
    assert without_seconds(sweeps.sweep(**SMALL_GRID, n_jobs=n_jobs, backend=backend)) == without_seconds(local_rows)


def test_spiral_and_activations(tmp_path):
    rows = sweeps.sweep([4], [0.002], [0], passes=lecture.MIN_PASSES, activation=["tanh", "relu"], data="spiral",
                       out=tmp_path)
    assert [row["activation"] for row in rows] == ["tanh", "relu"]
    X, y = fastbp.datasets.make_spiral(100, 3, seed=0)
    model = fastbp.train(X, y, 4, num_passes=lecture.MIN_PASSES, epsilon=0.002, activation="relu").model
    assert rows[1]["final_loss"] == fastbp.calculate_loss(model, X, y, 0.01)
    assert sweeps.read_csv(tmp_path / "sweep.csv") == rows  # floats are written with repr: exact


def test_command_writes_the_csv_and_heat_map(tmp_path, capsys):
    out = tmp_path / "sweep"
    status = cli.main(["sweep", "--hidden", "1", "3", "--epsilon", "0.01", "0.002", "--seed", "0", "1",
                       "--passes", str(lecture.MIN_PASSES), "--out", str(out), "--n-jobs", "2"])
    assert status == 0
    written = sweeps.read_csv(out / "sweep.csv")
    assert list(written[0]) == list(sweeps.COLUMNS)
    printed = capsys.readouterr().out
    table = printed.split("\n\nFiles written")[0].splitlines()
    assert table[0].split() == list(sweeps.COLUMNS)  # the printed table's header is the CSV's
    assert len(table) == 1 + len(written)
    assert [line.split()[:3] for line in table[1:]] == [
        ["%d" % row["hidden"], "%g" % row["epsilon"], "%d" % row["seed"]] for row in written]
    local = sweeps.sweep(**SMALL_GRID)
    assert without_seconds(written) == without_seconds(local)
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Files written" in printed


@pytest.mark.parametrize("arguments, message", [
    (["--hidden"], "expected at least one argument"),
    (["--hidden", "0"], "value must be >= 1"),
    (["--epsilon", "-0.1"], "positive"),
    (["--seed", "-1"], "value must be >= 0"),
    (["--activation", "softsign"], "invalid choice"),
    (["--data", "circles"], "invalid choice"),
    (["--passes", "10"], "value must be >= %d" % lecture.MIN_PASSES),
    (["--n-jobs", "0"], "value must be >= 1"),
    (["--scheduler", "localhost"], "scheduler must be a Dask scheduler address"),
])
def test_command_names_the_bad_value(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit:
        cli.main(["sweep", "--out", str(tmp_path)] + arguments)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("settings, message", [
    (dict(hidden=[]), "hidden is empty"),
    (dict(epsilon=[]), "epsilon is empty"),
    (dict(seed=()), "seed is empty"),
    (dict(activation=[]), "activation is empty"),
    (dict(hidden=[3, 0]), "hidden must be >= 1"),
    (dict(epsilon=[0.01, float("nan")]), "epsilon must be a finite positive"),
    (dict(seed=[trainer.MAX_SEED]), "seed must be <="),
    (dict(activation=["tanh", "softsign"]), "activation must be one of"),
    (dict(data="circles"), "data must be one of"),
    (dict(passes=10), "passes must be >="),
    (dict(n_jobs=0), "n_jobs must be"),
    (dict(backend="gpu"), "backend must be one of"),
    (dict(scheduler="127.0.0.1:8786"), "scheduler must be a Dask scheduler address"),
])
def test_bad_grids_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        sweeps.sweep(**{**dict(hidden=[1], epsilon=[0.01], seed=[0], passes=lecture.MIN_PASSES), **settings})


def test_a_dask_cluster_gives_the_local_rows(local_rows):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed: "
                                                            "pip install \"fastbp[dask]\"")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        tasks_before = cluster.scheduler.transition_counter
        rows = sweeps.sweep(**SMALL_GRID, scheduler=cluster.scheduler_address)
        assert cluster.scheduler.transition_counter > tasks_before  # the work went through the scheduler
    assert without_seconds(rows) == without_seconds(local_rows)


def test_an_unreachable_scheduler_is_a_clear_error_not_a_hang(tmp_path, capsys):
    pytest.importorskip("distributed", reason="dask.distributed is not installed: pip install \"fastbp[dask]\"")
    with pytest.raises(sweeps.SchedulerUnreachable, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        sweeps.sweep([1], [0.01], [0], passes=lecture.MIN_PASSES, scheduler=UNREACHABLE_SCHEDULER, scheduler_timeout=1)
    with pytest.raises(SystemExit) as exit:
        cli.main(["sweep", "--hidden", "1", "--out", str(tmp_path), "--scheduler", UNREACHABLE_SCHEDULER,
                  "--scheduler-timeout", "1"])
    assert exit.value.code == 1
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_progress_bar_counts_the_networks(monkeypatch, capsys):
    from fastbp import progress

    drawn = progress.progress_bar

    def always_drawn(total, description, unit, enabled=None, delay=0):
        return drawn(total, description, unit, enabled=True if enabled is None else enabled, delay=0,
                     mininterval=0, miniters=1)

    monkeypatch.setattr(progress, "progress_bar", always_drawn)
    sweeps.sweep([1, 2], [0.01], [0], passes=lecture.MIN_PASSES, progress=True)
    bar = capsys.readouterr().err
    assert "2/2" in bar and "network" in bar
    sweeps.sweep([1, 2], [0.01], [0], passes=lecture.MIN_PASSES, progress=False)
    assert capsys.readouterr().err == ""


def test_the_default_run_is_long_enough_for_the_lectures_run_class():
    # Expected: the lecture's H = 3 run at its step settles into a period-2 cycle from about
    # pass 1200 on (docs/numerics.md; the demo's report); a window that includes the early
    # descent would call it irregular.
    assert sweeps.sweep.__defaults__[3] == lecture.NUM_PASSES >= diagnostics.MIN_CLASSIFIED_PASSES
    rows = sweeps.sweep([3], [0.01], [0], passes=diagnostics.MIN_CLASSIFIED_PASSES)
    assert rows[0]["run_class"] == diagnostics.PERIOD_2
    short = sweeps.sweep([3], [0.01], [0], passes=diagnostics.MIN_CLASSIFIED_PASSES - 1)
    assert short[0]["run_class"] == diagnostics.TOO_SHORT


def test_the_heat_map_says_what_its_cells_are_on_a_scale_that_tells_them_apart(tmp_path):
    rows = [dict(hidden=h, epsilon=e, seed=s, activation="tanh", test_accuracy=accuracy, run_class="converged")
            for (h, e, accuracy) in ((1, 0.01, 0.83), (3, 0.01, 0.97), (1, 0.002, 0.9), (3, 0.002, 0.95))
            for s in (0, 1)]
    fig = sweeps.draw_heat_map(rows, tmp_path / "map.png", "test")
    heat, bar = fig.axes
    assert "mean over 2 seeds" in heat.get_title()
    assert "mean over seeds" in bar.get_ylabel()
    low, high = heat.get_images()[0].get_clim()
    assert (low, high) == sweeps.color_limits([0.83, 0.97, 0.9, 0.95]) == pytest.approx((0.8, 1.0))
    # just outside a step: 0.8 itself opens the scale at 0.8, anything below at 0.75
    assert sweeps.color_limits([0.8, 0.97]) == pytest.approx((0.8, 1.0))
    assert sweeps.color_limits([0.799, 0.97]) == pytest.approx((0.75, 1.0))
    assert sweeps.color_limits([0.5, 0.61]) == pytest.approx((0.5, 0.65))
    assert sweeps.color_limits([float("nan")]) == (0.0, 1.0)


def test_a_bar_waits_its_delay_and_shows_only_when_enabled(capsys):
    from fastbp import progress

    for enabled, delay, shown in ((True, 0, True), (True, 1000, False), (False, 0, False)):
        with progress.progress_bar(3, "waiting", "network", enabled=enabled, delay=delay, mininterval=0) as bar:
            bar.update(3)
        assert ("waiting" in capsys.readouterr().err) is shown, (enabled, delay)
