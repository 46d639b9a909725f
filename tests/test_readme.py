"""README.md cannot drift: every Python block runs on its own in a fresh
interpreter, every `fastbp ...` command line in it parses, and every link
points at a heading or a file that exists."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import fastbp
from fastbp import cli

REPO = Path(__file__).resolve().parent.parent


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
