"""fastbp.sweep and `fastbp sweep`: the grid's rows, the same on every kind of worker."""

import numpy as np
import pytest

import fastbp
from fastbp import cli, diagnostics, sweeps, trainer

SMALL_GRID = dict(hidden=[1, 3], epsilon=[0.01, 0.002], seed=[0, 1], passes=sweeps.MIN_PASSES)
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
        run = fastbp.train(X, y, row["hidden"], num_passes=sweeps.MIN_PASSES, epsilon=row["epsilon"], seed=row["seed"],
                           loss_every=sweeps.RECORD_EVERY)
        assert row["activation"] == "tanh"
        assert row["final_loss"] == fastbp.calculate_loss(run.model, X, y, 0.01)
        assert row["train_accuracy"] == np.mean(fastbp.predict(run.model, X) == y)
        assert row["test_accuracy"] == np.mean(fastbp.predict(run.model, X_test) == y_test)
        assert row["run_class"] == diagnostics.classify_run(run.losses)
        assert row["seconds"] > 0


@pytest.mark.parametrize("n_jobs, backend", [(2, "threads"), (2, "processes")])
def test_parallel_workers_give_the_serial_rows(local_rows, n_jobs, backend):
    assert without_seconds(sweeps.sweep(**SMALL_GRID, n_jobs=n_jobs, backend=backend)) == without_seconds(local_rows)


def test_spiral_and_activations(tmp_path):
    rows = sweeps.sweep([4], [0.002], [0], passes=sweeps.MIN_PASSES, activation=["tanh", "relu"], data="spiral",
                       out=tmp_path)
    assert [row["activation"] for row in rows] == ["tanh", "relu"]
    X, y = fastbp.datasets.make_spiral(100, 3, seed=0)
    model = fastbp.train(X, y, 4, num_passes=sweeps.MIN_PASSES, epsilon=0.002, activation="relu").model
    assert rows[1]["final_loss"] == fastbp.calculate_loss(model, X, y, 0.01)
    assert sweeps.read_csv(tmp_path / "sweep.csv") == rows  # floats are written with repr: exact


def test_command_writes_the_csv_and_heat_map(tmp_path, capsys):
    out = tmp_path / "sweep"
    status = cli.main(["sweep", "--hidden", "1", "3", "--epsilon", "0.01", "0.002", "--seed", "0", "1",
                       "--passes", str(sweeps.MIN_PASSES), "--out", str(out), "--n-jobs", "2"])
    assert status == 0
    written = sweeps.read_csv(out / "sweep.csv")
    assert list(written[0]) == list(sweeps.COLUMNS)
    local = sweeps.sweep(**SMALL_GRID)
    assert without_seconds(written) == without_seconds(local)
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Files written" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["--hidden"], "expected at least one argument"),
    (["--hidden", "0"], "value must be >= 1"),
    (["--epsilon", "-0.1"], "positive"),
    (["--seed", "-1"], "seed must be >= 0"),
    (["--activation", "softsign"], "invalid choice"),
    (["--data", "circles"], "invalid choice"),
    (["--passes", "10"], "value must be >= %d" % sweeps.MIN_PASSES),
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
        sweeps.sweep(**{**dict(hidden=[1], epsilon=[0.01], seed=[0], passes=sweeps.MIN_PASSES), **settings})


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
        sweeps.sweep([1], [0.01], [0], passes=sweeps.MIN_PASSES, scheduler=UNREACHABLE_SCHEDULER, scheduler_timeout=1)
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
    sweeps.sweep([1, 2], [0.01], [0], passes=sweeps.MIN_PASSES, progress=True)
    bar = capsys.readouterr().err
    assert "2/2" in bar and "network" in bar
    sweeps.sweep([1, 2], [0.01], [0], passes=sweeps.MIN_PASSES, progress=False)
    assert capsys.readouterr().err == ""
