"""Where the tests find the repository's other files (README, docs, examples, tools, tests/data):
in the source checkout or the unpacked sdist that holds this tests/ folder. Written once here, so
that a test file moved between tests/kernels, tests/api and tests/apps keeps its paths."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TEST_DATA = REPO / "tests" / "data"
