"""Issue 9, cases 1, 2 and 6 for graph files.

Case 1: malformed graph JSON (empty, truncated, not UTF-8, not JSON, NaN/Infinity
literals, 5,000-digit numbers, 100,000-deep nesting, a 200 MB file) gets a clean
refusal without hanging, and the open graph stays.
Case 2: graph JSON of the wrong shape gets a message naming the JSON path; nothing loads.
Case 6: graph saves are atomic: ENOSPC leaves the old file, a read-only target gets a
clear message, and a save killed mid-write leaves a file that still loads.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graph import fileformat
from graph.errors import GraphError, GraphFileError
from graph.examples import build_example, example_path

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def open_graph():
    """The graph 'open in the app', with a subscriber that must see no event."""
    g = build_example("f1")
    events = []
    g.events.subscribe(events.append)
    return g, fileformat.dumps(g), events


def _refused(open_graph, path: Path, message: str) -> str:
    g, before, events = open_graph
    with pytest.raises(GraphFileError, match=message) as info:
        fileformat.load_into(g, path)
    assert fileformat.dumps(g) == before, "the open graph must stay as it was"
    assert events == []
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# ------------------------------------------------------------------------- case 1

_VALID = example_path("f3").read_bytes()

CASE1 = [
    ("empty", b"", "empty"),
    ("whitespace", b"  \n\t ", "empty"),
    ("truncated", _VALID[: len(_VALID) // 2], "not valid JSON"),
    ("truncated_one_byte", _VALID[:-2], "not valid JSON"),
    ("not_utf8", b'{"format": "\xff\xfe"}', "not UTF-8"),
    ("utf16", '{"format": 1}'.encode("utf-16"), "not UTF-8"),
    ("not_json", b"digraph { a -> b }", "not valid JSON"),
    ("python_literal", b"{'format': 1}", "not valid JSON"),
    ("nan_literal", _VALID.replace(b'"value": 1.0', b'"value": NaN', 1), "NaN is not valid JSON"),
    ("infinity_literal", _VALID.replace(b'"value": 2.0', b'"value": -Infinity', 1), "Infinity"),
    ("digits_5000", _VALID.replace(b'"value": 1.0', b'"value": 1' + b"7" * 5000, 1), "too long"),
    ("float_5000", _VALID.replace(b'"value": 1.0', b'"value": 0.' + b"3" * 5000, 1), "too long"),
    ("exponent_overflow", _VALID.replace(b'"value": 1.0', b'"value": 1e999', 1), "out of range"),
    ("nesting_100000_lists", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("nesting_100000_objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    ("nesting_in_meta", _VALID.replace(b'"meta": {}', b'"meta": ' + b"[" * 100_000), "JSON"),
    ("a_list", b"[1, 2, 3]", r"\(top level\): expected an object"),
    ("binary_zeros", b"\x00" * 1000, "not valid JSON"),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("case", "content", "message"), CASE1, ids=[c[0] for c in CASE1])
def test_malformed_graph_json_is_refused_and_open_graph_stays(
    tmp_path, open_graph, case, content, message
):
    path = tmp_path / f"{case}.json"
    path.write_bytes(content)
    _refused(open_graph, path, message)


@pytest.mark.timeout(20)
def test_200mb_file_is_refused_by_size_without_being_read(tmp_path, open_graph, monkeypatch):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # sparse: no 200 MB of disk needed
        f.write(b'{"format": "backprop-explorer-graph", "nodes": [')
        f.truncate(200 * 1024 * 1024)
    assert path.stat().st_size == 200 * 1024 * 1024

    def no_open(*args, **kwargs):
        raise AssertionError("the loader opened a file it should refuse from its size")

    monkeypatch.setattr(fileformat, "open", no_open, raising=False)
    text = _refused(open_graph, path, "larger than")
    assert "209.7 MB" in text


def test_missing_folder_and_directory_are_refused(tmp_path, open_graph):
    _refused(open_graph, tmp_path / "nope.json", "no such file")
    folder = tmp_path / "dir.json"
    folder.mkdir()
    _refused(open_graph, folder, "it is a folder")


# ------------------------------------------------------------------------- case 2


def _f3() -> dict:
    return json.loads(_VALID)


def _mutate(fn):
    data = _f3()
    fn(data)
    return data


def _set(path: list, value):
    def apply(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _delete(path: list):
    def apply(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return apply


CASE2 = [
    ("missing_format", _delete(["format"]), "format: missing"),
    ("wrong_format", _set(["format"], "other"), "format: expected"),
    ("missing_version", _delete(["version"]), "version: expected a whole number"),
    ("newer_version", _set(["version"], 3), "version: 3 is newer"),
    ("version_string", _set(["version"], "1"), "version: expected a whole number"),
    ("missing_nodes", _delete(["nodes"]), "nodes: missing"),
    ("nodes_not_list", _set(["nodes"], {"a": 1}), "nodes: expected a list, got an object"),
    ("missing_edges", _delete(["edges"]), "edges: missing"),
    ("unknown_top_key", _set(["extra"], 1), r"\(top level\): unknown key 'extra'"),
    ("node_not_object", _set(["nodes", 2], 5), r"nodes\[2\]: expected an object"),
    ("missing_id", _delete(["nodes", 3, "id"]), r"nodes\[3\].id: missing"),
    ("missing_op", _delete(["nodes", 3, "op"]), r"nodes\[3\].op: missing"),
    ("unknown_op", _set(["nodes", 3, "op"], "foo"), r"nodes\[3\].op: unknown op 'foo'"),
    ("op_wrong_type", _set(["nodes", 3, "op"], 7), r"nodes\[3\].op: unknown op 7"),
    ("duplicate_id", _set(["nodes", 4, "id"], "n1"), r"nodes\[4\].id: duplicate id 'n1'"),
    ("duplicate_name", _set(["nodes", 4, "name"], "s1"), r"nodes\[4\].name: duplicate name"),
    ("bad_name", _set(["nodes", 4, "name"], "e 2"), r"nodes\[4\].name: name 'e 2'"),
    ("id_wrong_type", _set(["nodes", 0, "id"], 1), r"nodes\[0\].id: expected"),
    ("value_wrong_type", _set(["nodes", 0, "value"], "x"), r"nodes\[0\].value: expected a number"),
    ("value_bool", _set(["nodes", 0, "value"], True), r"nodes\[0\].value: expected a number"),
    ("value_on_op", _set(["nodes", 3, "value"], 1.0), r"nodes\[3\].value: only input nodes"),
    ("pos_wrong_shape", _set(["nodes", 0, "pos"], [1]), r"nodes\[0\].pos: expected \[x, y\]"),
    ("pos_not_number", _set(["nodes", 0, "pos"], [1, "a"]), r"nodes\[0\].pos\[1\]: expected"),
    ("pos_nan_string", _set(["nodes", 0, "pos"], [1, "nan"]), r"nodes\[0\].pos\[1\]: expected"),
    ("bad_param", _set(["nodes", 8, "params"], {"n": 2.5}), r"nodes\[8\].params: .*whole"),
    ("unknown_param", _set(["nodes", 8, "params"], {"k": 2}), r"nodes\[8\].params: .*'k'"),
    ("unknown_node_key", _set(["nodes", 1, "colour"], "red"), r"nodes\[1\]: unknown key"),
    ("edge_to_missing", _set(["edges", 2, "to"], "n99"), r"edges\[2\].to: no node has id 'n99'"),
    ("edge_from_missing", _set(["edges", 2, "from"], "zz"), r"edges\[2\].from: no node has id"),
    ("edge_bad_port", _set(["edges", 2, "port"], "q"), r"edges\[2\].port: d \(add\) has no port"),
    ("edge_port_range", _set(["edges", 2, "port"], 5), r"edges\[2\].port: .*not 5"),
    ("edge_port_type", _set(["edges", 2, "port"], None), r"edges\[2\].port: expected a port"),
    ("edge_into_input", _set(["edges", 2, "to"], "n1"), r"edges\[2\].to: s1 is an input node"),
    ("edge_self_loop", _set(["edges", 2], {"from": "n6", "to": "n6", "port": "a"}), "itself"),
    ("port_taken_twice", _set(["edges", 3, "port"], "a"), r"edges\[3\].port: port a of d"),
    (
        "port_taken_by_a_back_edge",
        lambda d: d["edges"].append({"from": "n11", "to": "n4", "port": "x"}),
        r"edges\[13\].port: port x of e1 already takes an edge",
    ),
    (
        "cycle_free_port",
        lambda d: (d["edges"].__setitem__(0, {"from": "n6", "to": "n4", "port": "x"}),),
        "edges: the edges form a cycle: (e1 -> d -> e1|d -> e1 -> d)",
    ),
    ("edge_not_object", _set(["edges", 0], ["n1", "n4"]), r"edges\[0\]: expected an object"),
    ("output_missing_node", _set(["output"], "n77"), "output: no node has id 'n77'"),
    ("output_wrong_type", _set(["output"], 3), "output: expected a node id or null"),
    ("meta_wrong_type", _set(["meta"], [1]), "meta: expected an object"),
]


@pytest.mark.parametrize(("case", "mutation", "message"), CASE2, ids=[c[0] for c in CASE2])
def test_wrong_shape_names_the_json_path_and_nothing_loads(
    tmp_path, open_graph, case, mutation, message
):
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(_mutate(mutation)))
    text = _refused(open_graph, path, message)
    assert text.startswith(f"{case}.json: ")


def test_valid_file_loads_so_the_mutations_are_what_fails(tmp_path, open_graph):
    g, _before, events = open_graph
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(_f3()))
    fileformat.load_into(g, path)
    assert g.same_as(build_example("f3")) and events


# ------------------------------------------------------------------------- case 6


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "graph.json"
    fileformat.save(build_example("f1"), path)
    return path, path.read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_enospc_leaves_the_old_file_intact_and_reports_it(saved, monkeypatch):
    path, old = saved

    def full_disk(f, data):
        f.write(data[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileformat, "_write_all", full_disk)
    with pytest.raises(GraphFileError, match="no space left on the device") as info:
        fileformat.save(build_example("f4"), path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == old
    assert fileformat.load(path).same_as(build_example("f1"))
    assert _leftovers(path.parent) == []  # the partial temporary file is removed


def test_enospc_at_fsync_also_keeps_the_old_file(saved, monkeypatch):
    path, old = saved

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileformat.os, "fsync", no_space)
    with pytest.raises(GraphFileError, match="no space left"):
        fileformat.save(build_example("f4"), path)
    assert path.read_bytes() == old and _leftovers(path.parent) == []


def test_read_only_target_file_gets_a_clear_message(saved):
    path, old = saved
    path.chmod(0o444)
    try:
        with pytest.raises(GraphFileError, match="the file is read-only"):
            fileformat.save(build_example("f4"), path)
        assert path.read_bytes() == old
    finally:
        path.chmod(0o644)


def test_read_only_folder_gets_a_clear_message(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "g.json"
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root ignores permission bits: make the folder refuse the temporary file

        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(fileformat.tempfile, "mkstemp", refuse)
    try:
        with pytest.raises(GraphFileError, match="permission denied") as info:
            fileformat.save(build_example("f1"), target)
        assert str(target) in str(info.value) and "\n" not in str(info.value)
        assert not target.exists()
    finally:
        folder.chmod(0o755)


def test_save_keeps_file_mode_and_never_writes_the_target_in_place(saved, monkeypatch):
    path, _old = saved
    path.chmod(0o640)
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((Path(src), Path(dst)))
        assert Path(dst).read_bytes() != Path(src).read_bytes()  # target untouched so far
        real_replace(src, dst)

    monkeypatch.setattr(fileformat.os, "replace", spy)
    fileformat.save(build_example("f4"), path)
    ((src, dst),) = replaced
    assert dst == path and src.parent == path.parent and src.name.endswith(".tmp")
    assert path.stat().st_mode & 0o777 == 0o640


_CHILD = """
import sys
from graph import fileformat
from graph.examples import build_example

def stall_half_way(f, data):
    f.write(data[: len(data) // 2])
    f.flush()
    print("half written", flush=True)
    sys.stdin.read()  # wait here until killed

fileformat._write_all = stall_half_way
fileformat.save(build_example("f4"), sys.argv[1])
print("finished", flush=True)
"""


@pytest.mark.timeout(60)
def test_save_process_killed_mid_write_leaves_a_file_that_loads(saved):
    path, old = saved
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "half written"
        # The temporary file holds half the new graph right now; kill the saver.
        partial = _leftovers(path.parent)
        assert len(partial) == 1
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdin.close()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == old
    assert fileformat.load(path).same_as(build_example("f1"))
    # The next save of the same file succeeds despite the abandoned temporary file.
    fileformat.save(build_example("f4"), path)
    assert fileformat.load(path).same_as(build_example("f4"))


def test_export_to_file_is_atomic_too(tmp_path, monkeypatch):
    target = tmp_path / "out.py"
    target.write_text("old")

    def fail(f, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileformat, "_write_all", fail)
    with pytest.raises(GraphError, match="no space"):
        fileformat.atomic_write_bytes(target, b"new content")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_same_graph_is_loadable_after_save(tmp_path):
    g = build_example("f3")
    path = tmp_path / "x.json"
    fileformat.save(g, path)
    assert fileformat.load(path).same_as(g)
    assert copy.deepcopy(fileformat.to_dict(g)) == json.loads(path.read_text())
