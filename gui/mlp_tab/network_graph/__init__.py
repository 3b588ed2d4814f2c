"""The Two-layer net tab's "Network graph" page (issue 15): the numpy net as a steppable
graph of the seed's layer calls, and "explain this number" in the Graph tab's engine.

``page`` lays it out and runs its worker queue; ``scene`` draws the network; ``heatmap``
draws tensors; ``inspector`` shows one node; ``explain_view`` one explanation;
``batch_picker`` chooses weights and images; ``jobs`` is what runs in the worker. The
model side is ``nets.mlp.netgraph`` and ``nets.mlp.explain``.
"""
