"""The scalar computational-graph engine: ops, model, evaluation, gradient check, files.

Pure Python (its topology in ``graph.digraph``; networkx only for ``Graph.to_networkx``).
Knows nothing of Qt, the GUI or ``nets``.

Modules:

- :mod:`graph.ops`: the one op table (``OPS``: symbol, ports, forward, local
  derivatives, tooltip, export templates).
- :mod:`graph.model`: ``Graph`` (editing with events, snapshots for undo), on
  :mod:`graph.structure` (what it holds, the queries) and :mod:`graph.node` (``Node``,
  ``EvaluationState``, the name and parameter checks); :mod:`graph.toposort`.
- :mod:`graph.digraph`: the topology under ``Graph`` (nodes, edges, reachability).
- :mod:`graph.events`: the event dataclasses and ``Edge``.
- :mod:`graph.evaluate`: ``evaluate`` (fast forward + backward) and ``Stepper``
  (step by step with records, publishes to ``graph.evaluation``), on the cached plans
  of :mod:`graph.plans`; the step records and number formats are in :mod:`graph.records`.
- :mod:`graph.gradcheck`: central-difference gradient check.
- :mod:`graph.fileformat`: versioned JSON, validated load, atomic save.
- :mod:`graph.program`: ``from_program`` (a Python program read with ``ast``).
- :mod:`graph.layout`: ``auto_layout``.
- :mod:`graph.export`: ``to_python`` (seed style) and ``to_dot``.
- :mod:`graph.examples`: the built-in f1-f4; :mod:`graph.functions`: f1-f4 by hand.
- :mod:`graph.cli`: ``backprop-explorer graph eval|export``.
"""
