"""Graph files: versioned JSON, validated in full before anything is built, saved atomically.

Format (version 1)::

    {
      "format": "backprop-explorer-graph",
      "version": 1,
      "nodes": [
        {"id": "n1", "name": "x", "op": "input", "value": 2.0, "pos": [0.0, 0.0]},
        {"id": "n2", "name": "p", "op": "powc", "params": {"exponent": 2.0}, "pos": [180.0, 0.0]}
      ],
      "edges": [{"from": "n1", "to": "n2", "port": "x"}],
      "output": "n2",
      "meta": {}
    }

``value`` (input nodes) and params may be the strings ``"nan"``, ``"inf"``, ``"-inf"``;
JSON's non-standard ``NaN``/``Infinity`` literals are refused. ``port`` is a port name
(a 0-based index is accepted too). ``output`` is null for the default (the only sink).
``pos`` may be left out in hand-written files: such nodes are auto-laid out. ``meta``
holds free-form JSON (e.g. the Graph tab's practice settings).

Version 2 adds ``"groups"``: a list of ``{"id": "g1", "name": "sigmoid", "nodes": [node
ids], "parent": null}`` (see :mod:`graph.groups`). A graph without groups is still
written as version 1, so older versions of the app keep reading it; version-1 files
open unchanged.

Every problem is reported as ``<JSON path>: <what is wrong>`` in a GraphFileError and
nothing is built. Files larger than :data:`MAX_FILE_BYTES` are refused from their size
alone, without being read.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from graph.errors import GraphEditError, GraphError, GraphFileError
from graph.model import Graph
from graph.node import Node, check_name, check_params
from graph.ops import OPS
from graph.opspec import OpSpec
from graph.toposort import find_cycle, topological_sort

FORMAT = "backprop-explorer-graph"
VERSION = 2
#: The version written for a graph without groups (what version 1 already reads).
VERSION_PLAIN = 1
#: Largest graph file read (bytes). A 10,000-node graph is about 1.5 MB.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Most nodes a file may hold.
MAX_NODES = 200_000
#: Longest number token accepted (a float's repr needs at most 24 characters).
MAX_NUMBER_CHARS = 64

_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_TOP_KEYS = {"format", "version", "nodes", "edges", "output", "meta", "groups"}
_NODE_KEYS = {"id", "name", "op", "params", "value", "pos"}
_EDGE_KEYS = {"from", "to", "port"}


class _Refused(ValueError):
    """Raised from inside json's number hooks."""


# ----------------------------------------------------------------------------- writing


def encode_number(x: float) -> float | int | str:
    """A float as JSON data: itself when finite, else ``"nan"``, ``"inf"`` or ``"-inf"``."""
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    x = float(x)
    if math.isfinite(x):
        return x
    if x != x:
        return "nan"
    return "inf" if x > 0 else "-inf"


def to_dict(graph: Graph) -> dict[str, Any]:
    """The file's JSON data for ``graph``."""
    nodes = []
    for n in graph.nodes():
        item: dict[str, Any] = {"id": n.id, "name": n.name, "op": n.op}
        if n.op == "input":
            item["value"] = encode_number(n.value if n.value is not None else 0.0)
        if n.params:
            item["params"] = {k: encode_number(v) for k, v in n.params.items()}
        item["pos"] = [n.pos[0], n.pos[1]]
        nodes.append(item)
    edges = [
        {"from": e.src, "to": e.dst, "port": graph.node(e.dst).port_names[e.port]}
        for e in graph.edges()
    ]
    from graph.groups import GROUPS_KEY, Groups

    meta = graph.meta
    meta.pop(GROUPS_KEY, None)
    groups = Groups(graph).as_json()
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION if groups else VERSION_PLAIN,
        "nodes": nodes,
        "edges": edges,
        "output": graph.explicit_output,
        "meta": meta,
    }
    if groups:
        data["groups"] = groups
    return data


def dumps(graph: Graph) -> str:
    """The file's text for ``graph`` (UTF-8 JSON, one node or edge per line)."""
    data = to_dict(graph)
    head = {k: v for k, v in data.items() if k not in ("nodes", "edges")}

    def rows(items: list[dict[str, Any]]) -> str:
        if not items:
            return "[]"
        inner = ",\n".join("    " + json.dumps(i, allow_nan=False) for i in items)
        return "[\n" + inner + "\n  ]"

    lines = [
        "{",
        f'  "format": {json.dumps(head["format"])},',
        f'  "version": {head["version"]},',
        f'  "nodes": {rows(data["nodes"])},',
        f'  "edges": {rows(data["edges"])},',
        f'  "output": {json.dumps(head["output"])},',
    ]
    if "groups" in data:
        lines.append(f'  "groups": {rows(data["groups"])},')
    lines += [
        f'  "meta": {json.dumps(head["meta"], allow_nan=False, sort_keys=True)}',
        "}",
    ]
    return "\n".join(lines) + "\n"


def _describe_os_error(exc: OSError) -> str:
    reasons = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied (is the folder or file read-only?)",
        errno.EPERM: "permission denied (is the folder or file read-only?)",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "the folder does not exist",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EISDIR: "it is a folder",
        errno.ENAMETOOLONG: "the file name is too long",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def _write_all(f: IO[bytes], data: bytes) -> None:
    """Write ``data`` to the temporary file (a seam for fault-injection tests)."""
    f.write(data)


def _kind_of(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so the target is either the old file or the new one.

    The bytes go to a temporary file in the same folder, which is flushed and fsynced,
    then ``os.replace`` swaps it in. On failure the temporary file is removed, the old
    file is untouched, and GraphFileError says why (no space, read-only...). A symlink
    is written through to the file it names; a folder, device, FIFO or socket is refused
    (renaming over it would destroy it), and so is an existing file that has no write
    permission bits. An existing file keeps its mode; a new one gets the user's umask.
    (``nets.fileio`` is the same mechanism on the other side of the import contract.)
    """
    where = str(path)
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise GraphFileError(f"cannot save {where}: {_describe_os_error(exc)}") from None
    if st is not None:
        kind = _kind_of(st.st_mode)
        if kind is not None:
            raise GraphFileError(f"cannot save {where}: it is {kind}, not a regular file")
        if not st.st_mode & 0o222:
            raise GraphFileError(f"cannot save {where}: the file is read-only")
    parent = target.parent
    try:
        fd, tmp = tempfile.mkstemp(
            dir=parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
        )
    except OSError as exc:
        raise GraphFileError(f"cannot save {where}: {_describe_os_error(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise GraphFileError(f"cannot save {where}: {_describe_os_error(exc)}") from None
        raise
    try:  # make the rename itself durable; not every file system allows this
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def read_regular(path: str | os.PathLike[str], max_bytes: int, what: str) -> bytes:
    """Read a regular file of at most ``max_bytes``, refusing anything else (a FIFO would
    block forever, a device never ends) before reading a byte; GraphFileError naming it."""
    where = str(path)
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise GraphFileError(f"cannot open {where}: no such file") from None
    except OSError as exc:
        raise GraphFileError(f"cannot open {where}: {_describe_os_error(exc)}") from None
    try:
        st = os.fstat(fd)
        kind = _kind_of(st.st_mode)
        if kind is not None:
            raise GraphFileError(f"cannot open {where}: it is {kind}, not a {what}")
        if st.st_size > max_bytes:
            raise GraphFileError(
                f"cannot open {where}: {st.st_size / 1e6:.1f} MB is larger than the "
                f"{max_bytes / 1e6:.0f} MB a {what} may have"
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise GraphFileError(f"cannot open {where}: {_describe_os_error(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise GraphFileError(f"cannot open {where}: larger than {max_bytes / 1e6:.0f} MB")
    return data


def save(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Save atomically (see :func:`atomic_write_bytes`); GraphFileError on failure."""
    atomic_write_bytes(path, dumps(graph).encode("utf-8"))


# ----------------------------------------------------------------------------- reading


def _parse_float(token: str) -> float:
    if len(token) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number with {len(token)} characters is too long")
    value = float(token)
    if not math.isfinite(value):
        raise _Refused(f"number {token[:20]} is out of range")
    return value


def _parse_int(token: str) -> int:
    if len(token) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number with {len(token)} digits is too long")
    return int(token)


def _parse_constant(token: str) -> Any:
    raise _Refused(f'{token} is not valid JSON; write the string "{token.lower()}"')


def loads(text: str | bytes, source: str = "graph file") -> Graph:
    """Parse and validate a graph file's text; GraphFileError naming the problem."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GraphFileError(
                f"{source}: not UTF-8 text (bad byte at offset {exc.start})"
            ) from None
    if not text.strip():
        raise GraphFileError(f"{source}: the file is empty")
    try:
        data = json.loads(
            text,
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=_parse_constant,
        )
    except _Refused as exc:
        raise GraphFileError(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise GraphFileError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise GraphFileError(f"{source}: not a graph file: the JSON is nested too deeply") from None
    except (ValueError, MemoryError) as exc:
        raise GraphFileError(f"{source}: not valid JSON: {exc}") from None
    try:
        return from_dict(data)
    except GraphFileError as exc:
        raise GraphFileError(f"{source}: {exc}") from None


def load(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> Graph:
    """Read, validate and build a graph file. Refuses files over ``max_bytes`` unread."""
    data = read_regular(path, max_bytes, "graph file")
    return loads(data, source=Path(str(path)).name)


def _fail(path: str, message: str) -> GraphFileError:
    return GraphFileError(f"{path}: {message}")


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(v), type(v).__name__)


def _number(v: Any, path: str, finite: bool = False) -> float:
    if isinstance(v, str) and v in _NONFINITE and not finite:
        return _NONFINITE[v]
    if isinstance(v, bool) or not isinstance(v, int | float):
        hint = "" if finite else ' (or "nan", "inf", "-inf")'
        raise _fail(path, f"expected a number{hint}, got {_type_name(v)}")
    return float(v)


def _unknown_keys(obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise _fail(path, f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _check_params(spec: OpSpec, params: Any, path: str) -> dict[str, float]:
    if not isinstance(params, dict):
        raise _fail(path, f"expected an object, got {_type_name(params)}")
    numbers = {}
    for key, v in params.items():
        numbers[key] = _number(v, f"{path}.{key}")
    try:
        return check_params(spec, numbers)
    except GraphEditError as exc:
        raise _fail(path, str(exc)) from None


def from_dict(data: Any) -> Graph:
    """Validate a parsed graph file completely, then build the Graph.

    Raises GraphFileError whose message starts with the JSON path of the first problem;
    nothing is built in that case.
    """
    if not isinstance(data, dict):
        raise _fail("(top level)", f"expected an object, got {_type_name(data)}")
    if data.get("format") != FORMAT:
        if "format" not in data:
            raise _fail("format", f'missing; a graph file has "format": "{FORMAT}"')
        raise _fail("format", f"expected {FORMAT!r}, got {data['format']!r:.60}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail("version", f"expected a whole number, got {_type_name(version)}")
    if version > VERSION:
        raise _fail("version", f"{version} is newer than this app reads ({VERSION}); update it")
    if version < 1:
        raise _fail("version", f"{version} is not a valid version")
    _unknown_keys(data, _TOP_KEYS, "(top level)")
    for key in ("nodes", "edges"):
        if key not in data:
            raise _fail(key, "missing")
        if not isinstance(data[key], list):
            raise _fail(key, f"expected a list, got {_type_name(data[key])}")
    raw_nodes: list[Any] = data["nodes"]
    raw_edges: list[Any] = data["edges"]
    if len(raw_nodes) > MAX_NODES:
        raise _fail("nodes", f"{len(raw_nodes)} nodes is more than the {MAX_NODES} allowed")

    ids: dict[str, int] = {}
    names: dict[str, int] = {}
    parsed: list[dict[str, Any]] = []
    missing_pos = False
    for i, item in enumerate(raw_nodes):
        path = f"nodes[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, f"expected an object, got {_type_name(item)}")
        _unknown_keys(item, _NODE_KEYS, path)
        for key in ("id", "name", "op"):
            if key not in item:
                raise _fail(f"{path}.{key}", "missing")
        node_id, name, op = item["id"], item["name"], item["op"]
        if not isinstance(node_id, str) or not _ID_RE.match(node_id):
            raise _fail(
                f"{path}.id", f"expected 1-64 letters, digits, '_', '.' or '-', got {node_id!r:.40}"
            )
        if node_id in ids:
            raise _fail(f"{path}.id", f"duplicate id {node_id!r} (also nodes[{ids[node_id]}])")
        ids[node_id] = i
        try:
            check_name(name)
        except GraphEditError as exc:
            raise _fail(f"{path}.name", str(exc)) from None
        if name in names:
            raise _fail(f"{path}.name", f"duplicate name {name!r} (also nodes[{names[name]}])")
        names[name] = i
        if not isinstance(op, str) or op not in OPS:
            raise _fail(f"{path}.op", f"unknown op {op!r:.40} (known: {', '.join(OPS)})")
        spec = OPS[op]
        params = _check_params(spec, item.get("params", {}), f"{path}.params")
        if op == "const" and params["value"] != params["value"]:
            pass  # a nan constant is allowed; it is flagged when evaluated
        value = None
        if "value" in item:
            if op != "input":
                raise _fail(f"{path}.value", f"only input nodes have a value, not {op}")
            value = _number(item["value"], f"{path}.value")
        elif op == "input":
            value = 0.0
        if "pos" in item:
            pos = item["pos"]
            if not isinstance(pos, list) or len(pos) != 2:
                raise _fail(f"{path}.pos", f"expected [x, y], got {_type_name(pos)}")
            x = _number(pos[0], f"{path}.pos[0]", finite=True)
            y = _number(pos[1], f"{path}.pos[1]", finite=True)
        else:
            missing_pos = True
            x = y = 0.0
        parsed.append(
            {
                "id": node_id,
                "name": name,
                "op": op,
                "params": params,
                "value": value,
                "pos": (x, y),
                "ports": spec.port_names(params),
                "inputs": [None] * spec.arity(params),
                "has_pos": "pos" in item,
            }
        )

    port_owner: dict[tuple[str, int], int] = {}
    for k, edge in enumerate(raw_edges):
        path = f"edges[{k}]"
        if not isinstance(edge, dict):
            raise _fail(path, f"expected an object, got {_type_name(edge)}")
        _unknown_keys(edge, _EDGE_KEYS, path)
        for key in ("from", "to", "port"):
            if key not in edge:
                raise _fail(f"{path}.{key}", "missing")
        src, dst, port = edge["from"], edge["to"], edge["port"]
        for key, ref in (("from", src), ("to", dst)):
            if not isinstance(ref, str):
                raise _fail(f"{path}.{key}", f"expected a node id, got {_type_name(ref)}")
            if ref not in ids:
                raise _fail(f"{path}.{key}", f"no node has id {ref!r:.40}")
        target = parsed[ids[dst]]
        if src == dst:
            raise _fail(path, f"node {target['name']} cannot feed itself")
        ports = target["ports"]
        if not ports:
            raise _fail(f"{path}.to", f"{target['name']} is an {target['op']} node: no inputs")
        if isinstance(port, str):
            if port not in ports:
                raise _fail(
                    f"{path}.port",
                    f"{target['name']} ({target['op']}) has no port {port!r:.20}; "
                    f"its ports are {', '.join(ports)}",
                )
            index = ports.index(port)
        elif isinstance(port, int) and not isinstance(port, bool):
            if not 0 <= port < len(ports):
                raise _fail(
                    f"{path}.port",
                    f"{target['name']} ({target['op']}) has ports 0..{len(ports) - 1}, not {port}",
                )
            index = port
        else:
            raise _fail(f"{path}.port", f"expected a port name, got {_type_name(port)}")
        if (dst, index) in port_owner:
            raise _fail(
                f"{path}.port",
                f"port {ports[index]} of {target['name']} already takes an edge "
                f"(edges[{port_owner[(dst, index)]}])",
            )
        port_owner[(dst, index)] = k
        target["inputs"][index] = src

    node_inputs = {p["id"]: p["inputs"] for p in parsed}
    _order, rest = topological_sort(list(ids), node_inputs)
    if rest:
        by_id = {p["id"]: p["name"] for p in parsed}
        cycle = find_cycle(rest, node_inputs)
        loop = " -> ".join(by_id[nid] for nid in cycle + cycle[:1])
        raise _fail("edges", f"the edges form a cycle: {loop}")

    output = data.get("output")
    if output is not None:
        if not isinstance(output, str):
            raise _fail("output", f"expected a node id or null, got {_type_name(output)}")
        if output not in ids:
            raise _fail("output", f"no node has id {output!r:.40}")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise _fail("meta", f"expected an object, got {_type_name(meta)}")
    from graph.groups import GROUPS_KEY
    from graph.groups import validate as validate_groups

    if GROUPS_KEY in meta:
        raise _fail(f"meta.{GROUPS_KEY}", 'groups belong in the top-level "groups" list')
    if "groups" in data and version < 2:
        raise _fail("groups", f"groups need version 2; this file says version {version}")

    nodes = [
        Node(
            id=p["id"],
            name=p["name"],
            op=p["op"],
            params=MappingProxyType(p["params"]) if p["params"] else MappingProxyType({}),
            inputs=tuple(p["inputs"]),
            pos=p["pos"],
            value=p["value"],
        )
        for p in parsed
    ]
    graph = Graph()
    graph._load_parts(nodes, output, meta)
    if "groups" in data:
        try:
            groups = validate_groups(graph, data["groups"])
        except ValueError as exc:
            raise GraphFileError(str(exc)) from None
        if groups:
            graph._meta[GROUPS_KEY] = groups  # checked: no event, nothing subscribed yet
    if missing_pos:
        from graph.layout import auto_layout

        placed = auto_layout(graph)
        todo = {p["id"]: placed[p["id"]] for p in parsed if not p["has_pos"]}
        graph.move_many(todo)
    return graph


def load_into(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Open ``path`` (graph file or program) into an existing graph, keeping its
    subscribers. On any error the graph is left exactly as it was."""
    loaded = load_any(path)
    graph.replace_with(loaded)


def load_any(path: str | os.PathLike[str]) -> Graph:
    """Open a graph file (``.json``) or a Python program (``.py``); GraphError if neither."""
    from graph.program import load_program

    name = str(path).lower()
    if name.endswith(".py"):
        return load_program(path)
    if name.endswith(".json"):
        return load(path)
    head = read_regular(path, MAX_FILE_BYTES, "graph file or program")[:256].lstrip()
    if head.startswith(b"{"):
        return load(path)
    if head:
        return load_program(path)
    raise GraphError(f"cannot open {path}: the file is empty")
