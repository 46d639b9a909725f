"""README.md cannot drift: every Python block runs on its own in a fresh
interpreter, every `fastbp ...` command line in it parses, every link
points at a heading or a file that exists, and every file of the repository
that it or the other documents name exists."""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import fastbp
from fastbp import cli
from repo_paths import REPO



def fenced_blocks(text):
    """-> [(language, code)] of the fenced blocks of a Markdown text, in order."""
    blocks, language, lines = [], None, []
    for line in text.splitlines():
        if language is None and line.startswith("```"):
            language, lines = line[3:].strip(), []
        elif language is not None and line.strip() == "```":
            blocks.append((language, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    assert language is None, "an unclosed block"
    return blocks


BLOCKS = fenced_blocks((REPO / "README.md").read_text())
PYTHON_BLOCKS = [code for language, code in BLOCKS if language == "python"]
CONSOLE_BLOCKS = [code for language, code in BLOCKS if language == ""]
# Command lines with placeholders ([--option], FILE.py) are synopses, not commands.
# A line ending in a backslash continues on the next, as in a shell.
COMMANDS = [line.split("&&")[-1].strip() for block in CONSOLE_BLOCKS
            for line in block.replace("\\\n", " ").splitlines()
            if re.match(r"(.*&& )?fastbp \w", line.strip()) and "[" not in line]


def test_the_readme_has_its_blocks():
    assert len(PYTHON_BLOCKS) >= 3
    assert len(COMMANDS) >= 2


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=["block%d" % k for k in range(len(PYTHON_BLOCKS))])
def test_each_python_block_runs_on_its_own(block, tmp_path):
    # the blocks import the fastbp these tests import: the source tree's, or an installed one
    # (tests run from an unpacked sdist, whose fastbp/ has no compiled modules)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(Path(fastbp.__file__).parent.parent)]
        + [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]))
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_line_parses(command):
    arguments = shlex.split(command)[1:]
    args = cli.build_parser().parse_args(arguments)
    assert args.command is not None


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_points_at_something_real():
    text = (REPO / "README.md").read_text()
    outside_code = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    anchors = {github_anchor(line.lstrip("#")) for line in outside_code.splitlines() if line.startswith("#")}
    links = re.findall(r"\]\(([^)\s]+)\)", outside_code)
    assert links
    for link in links:
        if link.startswith("#"):
            assert link[1:] in anchors, link
        elif not re.match(r"\w+://", link):
            assert (REPO / link).exists(), link



# The repository's files that the documents name in their text: a test moved to another folder, a
# tool renamed, must take its mentions along.
DOCUMENTS = ["README.md", "tests/README.md", "bench/README.md"] + sorted(
    path.relative_to(REPO).as_posix() for path in (REPO / "docs").glob("*.md"))
NAMED_PATH = re.compile(r"\b(?:tests|tools|src|fastbp|bench|docs|examples)/[\w/.-]*\w")


def test_every_file_the_documents_name_exists():
    package = Path(fastbp.__file__).resolve().parent  # the source tree's, or an installed one
    named = {(document, path) for document in DOCUMENTS for path in NAMED_PATH.findall((REPO / document).read_text())}
    assert any(path.startswith("tests/kernels/") for _, path in named)  # the pattern finds what it is for
    for document, path in sorted(named):
        where = package.parent / path if path.startswith("fastbp/") else REPO / path
        assert where.exists(), "%s names %s, which does not exist" % (document, path)


# ---------------------------------------------------------------- the README's figures about the code

README = (REPO / "README.md").read_text()


def mentioned(pattern):
    """-> the numbers the README's text gives where ``pattern`` (one number group) matches."""
    found = [float(value) for value in re.findall(pattern, " ".join(README.split()))]
    assert found, "the README no longer says %r" % pattern
    return found


def test_the_mutation_count_is_the_tables():
    spec = importlib.util.spec_from_file_location("mutations", REPO / "tools" / "mutations.py")
    mutations = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutations)
    assert mentioned(r"applies (\d+) deliberate mistakes") == [len(mutations.MUTATIONS)]


def test_the_figures_about_the_apps_are_the_codes():
    from fastbp import animate, demo, diagnostics, lecture, progress, sweeps

    assert set(mentioned(r"`CLASSIFY_WINDOW` = (\d+)")) == {diagnostics.CLASSIFY_WINDOW}
    assert set(mentioned(r"`MIN_CLASSIFIED_PASSES` = (\d+)")) == {diagnostics.MIN_CLASSIFIED_PASSES}
    assert set(mentioned(r"shorter than (\d+) passes")) == {diagnostics.MIN_CLASSIFIED_PASSES}
    assert set(mentioned(r"at least (\d+) of them")) == {diagnostics.MIN_LOSSES}
    assert set(mentioned(r"`--passes` must be at least (\d+)")) == {lecture.MIN_PASSES}
    assert set(mentioned(r"one every (\d+) passes")) == {lecture.RECORD_EVERY}
    assert set(mentioned(r"the last (\d+) passes one by one")) == {demo.LAST_PASSES_SHOWN}
    assert set(mentioned(r"a zoom on the last (\d+) passes")) == {animate.ZOOMED_PASSES}
    sizes = re.search(r"sweeps the hidden-layer sizes ((?:\d+, )+\d+)", " ".join(README.split())).group(1)
    assert tuple(int(size) for size in sizes.split(", ")) == demo.SWEEP_HIDDEN_SIZES
    assert "has lasted half a second" in " ".join(README.split()) and progress.BAR_DELAY_SECONDS == 0.5
    assert set(mentioned(r"`--scheduler-timeout` seconds \(default (\d+)\)")) == {sweeps.SCHEDULER_TIMEOUT_SECONDS}
    assert set(mentioned(r"each for the lecture's (\d+) passes")) == {lecture.NUM_PASSES}


def test_the_progress_example_shows_a_bar(monkeypatch, capsys):
    # The README's train(..., progress=True) line must run long enough for the bar's delay.
    import fastbp
    from fastbp import progress

    line = next(line for block in PYTHON_BLOCKS for line in block.splitlines() if "progress=True" in line)
    drawn = progress.progress_bar

    def on_a_terminal(total, description, unit, enabled=None, **options):
        return drawn(total, description, unit, enabled=True if enabled is None else enabled, **options)

    monkeypatch.setattr(progress, "progress_bar", on_a_terminal)
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    exec(line.split("#")[0], {"fastbp": fastbp, "X": X, "y": y})
    assert "training" in capsys.readouterr().err
