"""The scalar computational-graph engine: ops, model, evaluation, gradient check, files.

Pure Python on networkx. Knows nothing of Qt, the GUI or ``nets``.
"""
