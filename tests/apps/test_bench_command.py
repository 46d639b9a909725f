"""``fastbp bench``: its options and refusals, a tiny run's table, JSON and charts, and the
committed results left alone. No timings are asserted: only what the run writes."""

import json
import os

import pytest

from fastbp import cli
from fastbp.bench import charts, peers, report, shapes, suite

COMMITTED = suite.COMMITTED_RESULTS


def snapshot(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


@pytest.mark.parametrize("text, message", [
    ("100,784,10", "at least four numbers"),
    ("100,784,256,x,10", "a hidden width must be a positive integer"),
    ("100,784,0,10", "a hidden width must be a positive integer"),
    ("100,784,256,1", "at least 2 classes"),
    ("5,784,256,10", "N >= C"),
    ("100,784,256,10,b200", "batch size must be <= N"),
    ("100,784,256,10,b", "the batch size must be a positive integer"),
])
def test_a_bad_shape_is_refused_by_name(text, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--shape", text, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--shape" in err and message in err
    assert not (tmp_path / "out").exists()


def test_shapes_parse_with_and_without_a_batch():
    s = shapes.parse_shape("20000,784,256,128,10,b128")
    assert (s["N"], s["D"], s["hidden"], s["C"], s["B"]) == (20000, 784, (256, 128), 10, 128)
    s = shapes.parse_shape("10000,784,512,10")
    assert (s["N"], s["D"], s["hidden"], s["C"], s["B"]) == (10000, 784, (512,), 10, None)


@pytest.mark.skipif(not os.path.isdir(COMMITTED), reason="not a source checkout: no committed results")
def test_the_committed_results_are_refused_without_the_developers_flag(capsys):
    before = snapshot(COMMITTED)
    for out in (COMMITTED, os.path.join(COMMITTED, ".")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["bench", "--quick", "--out", out])
        assert exit_info.value.code == 2
        assert "--write-committed-results" in capsys.readouterr().err
    assert snapshot(COMMITTED) == before


def test_the_developers_flag_is_only_for_the_committed_results(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--quick", "--out", str(tmp_path), "--write-committed-results"])
    assert exit_info.value.code == 2
    assert "only for --out" in capsys.readouterr().err


def test_the_default_folder_is_new_and_not_the_committed_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = suite.default_out_dir()
    assert not os.path.exists(first) and os.path.dirname(first) == str(tmp_path)
    os.makedirs(first)
    second = suite.default_out_dir()
    assert second != first and not os.path.exists(second)
    assert not suite.is_committed_results(first)


def test_a_peer_not_installed_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setitem(peers.REQUIRES, "JAX jit + fori_loop", ("no_such_module_for_fastbp_tests", "jax (hint)"))
    monkeypatch.setattr(suite, "run_child", lambda *args: pytest.fail("no child for a peer that is not installed"))
    rows = suite.run_contender("JAX jit + fori_loop", "float64", [shapes.JOBS["lecture"]], {}, 10, lambda row: None)
    assert rows == [{"status": "skipped", "note": "jax (hint) not installed", "contender": "JAX jit + fori_loop",
                     "dtype": "float64", "shape": "lecture"}]


def test_the_sweep_times_every_contender_on_one_series_before_the_next(monkeypatch):
    # the children the sweep starts, recorded instead of run: each answers "failed" for its shapes
    children = []

    def record_child(spec, timeout):
        if spec.get("kind") == "contender":
            children.append((spec["contender"], spec["dtype"], [s["name"] for s in spec["shapes"]]))
        return {"status": "failed", "note": "not run in this test"}

    monkeypatch.setattr(suite, "run_child", record_child)
    monkeypatch.setattr(peers, "missing", lambda contender: None)
    result = suite.run(["sweep"], True, None, log=lambda *args: None)
    series = {name: [s["name"] for s in shapes.sweep_shapes(name, shapes.QUICK_WIDTHS)]
              for name in shapes.QUICK_SERIES}
    runs = [(contender, dtype) for contender in suite.QUICK_CONTENDERS for dtype in suite.DTYPES]
    expected = []
    for index, names in enumerate(series.values()):
        order = runs if index % 2 == 0 else runs[::-1]
        expected += [(contender, dtype, [name for name in names
                                         if not peers.cannot_express(contender, shapes_by_name(name), dtype)])
                     for contender, dtype in order]
    # a child per contender, precision and series, the series one after the other, the order alternating
    assert children == [child for child in expected if child[2]]
    for name, names in series.items():
        rows = result["sections"]["sweep: " + name]["rows"]
        # every shape of the series has its row for every contender and precision, in the contenders' own order
        assert [(r["contender"], r["dtype"], r["shape"]) for r in rows] == \
            [(contender, dtype, shape) for contender, dtype in runs for shape in names]


def shapes_by_name(name):
    return next(s for series_name in shapes.QUICK_SERIES for s in shapes.sweep_shapes(series_name, shapes.QUICK_WIDTHS)
                if s["name"] == name)


def test_ratios_are_written_plainly_and_each_contender_has_its_own_colour():
    assert report.fmt_ratio(180.4) == "180×" and report.fmt_ratio(1.234) == "1.23×"
    assert report.fmt_ratio(0.0046) == "0.0046×"
    assert set(charts.COLOURS) == set(peers.CONTENDERS)
    assert len(set(charts.COLOURS.values())) == len(charts.COLOURS)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One run of the command on a tiny shape with the installed peers of --quick."""
    out = tmp_path_factory.mktemp("bench") / "results"
    status = cli.main(["bench", "--quick", "--shape", "64,3,5,3,b16", "--out", str(out), "--note", "a test run"])
    assert status == 0
    return out


def test_a_tiny_run_writes_the_table_the_json_and_the_chart(tiny_run):
    assert sorted(os.listdir(tiny_run)) == ["benchmark.json", "benchmark.md", "benchmark.png"]
    saved = json.loads((tiny_run / "benchmark.json").read_text())
    rows = saved["sections"]["your shape"]["rows"]
    assert {(r["contender"], r["dtype"]) for r in rows} == {(c, d) for c in suite.QUICK_CONTENDERS
                                                            for d in suite.DTYPES}
    for r in rows:
        if peers.missing(r["contender"]):
            assert r["status"] == "skipped" and "not installed" in r["note"]
        else:
            assert r["status"] == "ok", r
            assert 0 < r["own_cores"] <= saved["machine"]["cores_usable"] * 1.05
    text = (tiny_run / "benchmark.md").read_text()
    assert "fastbp bench --quick --shape 64,3,5,3,b16" in text and "a test run" in text
    assert "issue" not in text.lower()
    assert "| fastbp | float64 |" in text
    with open(tiny_run / "benchmark.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_second_run_into_the_same_folder_is_refused(tiny_run, capsys):
    before = snapshot(tiny_run)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--quick", "--shape", "64,3,5,3", "--out", str(tiny_run)])
    assert exit_info.value.code == 2
    assert "already holds benchmark results" in capsys.readouterr().err
    assert snapshot(tiny_run) == before


def test_render_redraws_a_saved_run(tiny_run):
    (tiny_run / "benchmark.md").unlink()
    assert cli.main(["bench", "--render", str(tiny_run / "benchmark.json")]) == 0
    assert "| fastbp | float64 |" in (tiny_run / "benchmark.md").read_text()


def synthetic_report(s, seconds_per_pass, gemm_gflops):
    """A report of one point where each contender took the given seconds per pass (1 timed run of 1 pass)."""
    rows = [{"contender": name, "dtype": "float64", "shape": s["name"], "status": "ok", "passes": 1,
             "times": [seconds], "check_passes": 1, "check_loss": 0.5} for name, seconds in seconds_per_pass.items()]
    return {"sections": {"sweep: test": {"shapes": [s], "rows": rows}},
            "gemm": [{"n": 10, "float64_2T": gemm_gflops, "float32_2T": gemm_gflops}]}


def test_the_targets_are_judged_against_the_fastest_peer_and_the_ceiling():
    small = shapes.shape("small", 1000, 2, (8,), 2)  # 1000 * (16 + 16) multiply-adds forward: a small step
    saved = report.summarise(synthetic_report(small, {"fastbp": 2e-3, "JAX jit + fori_loop": 1e-3,
                                                      "PyTorch eager": 3e-3, "LectureClassifier": 1e-4}, 100.0))
    fastbp = report.row_of(saved["sections"]["sweep: test"]["rows"], "fastbp")
    # LectureClassifier is fastbp itself, not a peer: the fastest peer is JAX, twice as fast
    assert fastbp["fastest_peer"] == "JAX jit + fori_loop" and fastbp["vs_fastest_peer"] == pytest.approx(0.5)
    judged = {target: met for target, _, met in report.point_targets(small, fastbp, 100.0)}
    assert judged == {"≥ fastest peer": False, "≥ 1.5× fastest peer (small step)": False}
    assert [(ratio, s["name"]) for ratio, s, _, _ in report.losses(saved)] == [(pytest.approx(0.5), "small")]

    wide = shapes.shape("wide", 1000, 256, (256,), 10)
    flops = shapes.flops_per_pass(wide)
    # fastbp at 80 GFLOP/s, JAX at 40, against a 100 GFLOP/s ceiling: 80% of it, twice JAX
    saved = report.summarise(synthetic_report(wide, {"fastbp": flops / 80e9, "JAX jit + fori_loop": flops / 40e9},
                                              100.0))
    fastbp = report.row_of(saved["sections"]["sweep: test"]["rows"], "fastbp")
    judged = {target: met for target, _, met in report.point_targets(wide, fastbp, 100.0)}
    assert judged == {"≥ fastest peer": True, "≥ 75% of the GEMM ceiling (wide)": True}
    assert report.losses(saved) == []
