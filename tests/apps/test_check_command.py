"""`fastbp check FILE.py`: the backprop checker of fastbp/exercise/ from the command line."""

import subprocess
import sys

from repo_paths import EXAMPLES

SOLUTION = EXAMPLES / "backprop_solution.py"


def fastbp_check(path):
    return subprocess.run([sys.executable, "-m", "fastbp", "check", str(path)], capture_output=True, text=True)


def test_a_correct_solution_passes():
    result = fastbp_check(SOLUTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout


def test_an_averaged_gradient_is_named(tmp_path):
    buggy = tmp_path / "averaged.py"
    buggy.write_text(SOLUTION.read_text().replace("dW2 = (a1.T).dot(delta3)",
                                                  "dW2 = (a1.T).dot(delta3) / num_examples"))
    result = fastbp_check(buggy)
    assert result.returncode == 1
    dW2_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("dW2")]
    assert dW2_lines and "averaged instead of summed" in dW2_lines[0]
    db2_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("db2")]
    assert db2_lines and "correct" in db2_lines[0]


def test_a_file_that_cannot_be_checked(tmp_path):
    no_function = tmp_path / "empty.py"
    no_function.write_text("x = 1\n")
    not_callable = tmp_path / "constant.py"
    not_callable.write_text("backprop = {'dW1': 0}\n")
    directory = tmp_path / "solutions.py"
    directory.mkdir()
    reasons = {no_function: "defines no function named backprop", tmp_path / "missing.py": "no such file",
               not_callable: "backprop is a dict, not a function", directory: "is not a file"}
    for path, reason in reasons.items():
        result = fastbp_check(path)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert str(path.name) in result.stderr and reason in result.stderr, result.stderr


def test_the_template_is_written_out_and_checks_as_unfilled(tmp_path):
    # the template is the lecture's loop with the backprop lines left out: the checker must fail it
    path = tmp_path / "my_backprop.py"
    written = subprocess.run([sys.executable, "-m", "fastbp", "check", "--template", str(path)],
                             capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    assert "def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda)" in path.read_text()
    result = fastbp_check(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not filled in" in result.stdout


def test_the_template_never_overwrites_a_file(tmp_path):
    path = tmp_path / "my_backprop.py"
    path.write_text("# my work\n")
    result = subprocess.run([sys.executable, "-m", "fastbp", "check", "--template", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "already exists" in result.stderr and len(result.stderr.splitlines()) == 1
    assert path.read_text() == "# my work\n"


def test_check_needs_a_file_or_the_template_option_not_both(tmp_path):
    neither = subprocess.run([sys.executable, "-m", "fastbp", "check"], capture_output=True, text=True)
    both = subprocess.run([sys.executable, "-m", "fastbp", "check", str(SOLUTION), "--template",
                           str(tmp_path / "new.py")], capture_output=True, text=True)
    assert neither.returncode == 2 and "required: FILE.py" in neither.stderr
    assert both.returncode == 2 and "--template" in both.stderr
    assert not (tmp_path / "new.py").exists()
