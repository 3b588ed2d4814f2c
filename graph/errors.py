"""Errors raised by the graph engine. Every message is fit to show a user as it is.

``GraphError`` is the base; callers that want "anything the engine refused" catch it.
"""

from __future__ import annotations


class GraphError(Exception):
    """Base class of every error the graph engine raises on purpose."""


class GraphEditError(GraphError):
    """An edit was refused (cycle, taken port, arity, self-loop, unknown id, bad name...).

    The graph is unchanged when this is raised.
    """


class GraphFileError(GraphError):
    """A graph file could not be read, validated or written.

    Validation messages start with the JSON path of the problem, e.g.
    ``nodes[3].op: unknown op 'foo'``. Nothing is loaded when this is raised.
    """


class ProgramError(GraphError):
    """A program could not be turned into a graph.

    ``line`` and ``col`` are 1-based and point at the offending construct; the message
    reads ``line L, col C: ...`` (``FILE: line L, col C: ...`` when read from a file).
    Both are ``None`` for problems that have no place in the source (such as naming an
    output variable that the program never assigns).
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        col: int | None = None,
        source: str | None = None,
    ):
        self.line = line
        self.col = col
        self.reason = message
        self.source = source
        prefix = f"line {line}, col {col}: " if line is not None and col is not None else ""
        if source:
            prefix = f"{source}: {prefix}"
        super().__init__(prefix + message)
