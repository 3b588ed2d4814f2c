"""``backprop-explorer graph eval|export``: output formats, --json, errors, exit codes."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

import main
from graph import fileformat
from graph.evaluate import evaluate
from graph.examples import build_example, example_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_graph_is_a_registered_subcommand():
    assert main.SUBCOMMANDS["graph"] == "graph.cli"


def test_eval_prints_value_and_every_inputs_gradient(capsys):
    code, out, err = run(capsys, "graph", "eval", str(example_path("f1")))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "L = 0.25"
    assert "dL/dw = 1.5" in out and "dL/dx = 2" in out and "dL/dy = -1" in out


def test_eval_json_with_set_output_and_check(capsys):
    f3 = str(example_path("f3"))
    code, out, _ = run(
        capsys, "graph", "eval", f3, "--set", "s1=0.5", "--set", "y=2", "--check", "--json"
    )
    assert code == 0
    obj = json.loads(out)
    assert set(obj) == {"output", "value", "grads", "check"}
    g = build_example("f3")
    g.set_value(g.id_of("s1"), 0.5)
    g.set_value(g.id_of("y"), 2.0)
    r = evaluate(g)
    assert obj["output"] == "L" and obj["value"] == r.value
    assert obj["grads"] == {"s1": r.grads[g.id_of("s1")], "s2": r.grads[g.id_of("s2")], "y": 0.0}
    assert set(obj["check"]) == {"s1", "s2"} and max(obj["check"].values()) < 1e-7
    code, out, _ = run(capsys, "graph", "eval", f3, "--output", "p1", "--json")
    assert json.loads(out)["output"] == "p1" and "check" not in json.loads(out)


def test_eval_json_writes_nonfinite_numbers_as_strings(capsys, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text("x = 0.0\ny = -1.0\nL = log(x) + sqrt(y) + 1 / x\n")
    code, out, err = run(capsys, "graph", "eval", str(path), "--json", "--check")
    assert code == 0
    obj = json.loads(out)  # strict JSON: no NaN/Infinity literals
    assert obj["value"] == "nan"
    assert obj["grads"]["x"] == "nan" and obj["check"]["x"] == "nan"
    assert "NaN" not in out and "Infinity" not in out
    assert "warning: a nan or inf first appears at" in err
    path.write_text("x = 0.0\nL = 1 / x\n")
    _, out, _ = run(capsys, "graph", "eval", str(path), "--json")
    assert json.loads(out)["value"] == "inf" and json.loads(out)["grads"]["x"] == "-inf"


def test_eval_text_check_table(capsys):
    f3 = str(example_path("f3"))
    code, out, _ = run(capsys, "graph", "eval", f3, "--check", "--step", "1e-6")
    assert code == 0 and "rel. error" in out and "no gradient (selector)" in out


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{not json", ".json", "not valid JSON"),
        (
            '{"format": "backprop-explorer-graph", "version": 1, "nodes": [{"id": "a"}], '
            '"edges": []}',
            ".json",
            r"nodes\[0\].name: missing",
        ),
        ("x = 1.0\nfor i in x:\n    pass\n", ".py", "line 2, col 1: for loops"),
        ("", ".json", "empty"),
    ],
)
def test_bad_files_exit_1_with_one_line_error(capsys, tmp_path, content, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    code, out, err = run(capsys, "graph", "eval", str(path))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nope=1"], "there is no node named 'nope'"),
        (["--output", "nope"], "--output: there is no node named 'nope'"),
    ],
)
def test_unknown_names_exit_1(capsys, args, message):
    code, _, err = run(capsys, "graph", "eval", str(example_path("f1")), *args)
    assert code == 1 and message in err


def test_several_sinks_ask_for_output(capsys, tmp_path):
    g = build_example("f1")
    g.set_output(None)
    g.add_node("input", "extra")
    path = tmp_path / "two.json"
    fileformat.save(g, path)
    code, _, err = run(capsys, "graph", "eval", str(path))
    assert code == 1 and "pass --output NAME" in err
    code, out, _ = run(capsys, "graph", "eval", str(path), "--output", "L")
    assert code == 0 and out.startswith("L = 0.25")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main.main(["graph", "eval", str(example_path("f1")), "--set", "w=abc"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main.main(["graph", "export", str(example_path("f1")), "--to", "svg"])
    assert info.value.code == 2


@pytest.mark.parametrize("fmt", ["py", "dot", "json"])
def test_export_writes_each_format(capsys, tmp_path, fmt):
    code, out, _ = run(capsys, "graph", "export", str(example_path("f2")), "--to", fmt)
    assert code == 0
    if fmt == "json":
        assert fileformat.loads(out).same_as(build_example("f2"))
    elif fmt == "dot":
        assert out.startswith("digraph")
    else:
        assert "def f(x=0.5):" in out
    target = tmp_path / f"out.{fmt}"
    code, _, err = run(
        capsys, "graph", "export", str(example_path("f2")), "--to", fmt, "--out", str(target)
    )
    assert code == 0 and target.read_text() == out and "wrote" in err


def test_export_program_to_graph_file_then_eval_it(capsys, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("a = Value(3.0)\nb = a * a + a.tanh()\n")
    out_file = tmp_path / "p.json"
    assert run(capsys, "graph", "export", str(prog), "--to", "json", "-o", str(out_file))[0] == 0
    code, out, _ = run(capsys, "graph", "eval", str(out_file), "--json")
    obj = json.loads(out)
    assert math.isclose(obj["value"], 9 + math.tanh(3.0))
    assert math.isclose(obj["grads"]["a"], 6 + 1 - math.tanh(3.0) ** 2)


def test_installed_command_runs_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "main", "graph", "eval", str(example_path("f4")), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(example_path("f4").parents[2]),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "L"
    proc = subprocess.run(
        [sys.executable, "-m", "main", "graph", "eval", "/nonexistent/x.json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(example_path("f4").parents[2]),
    )
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot open /nonexistent/x.json: no such file\n"
