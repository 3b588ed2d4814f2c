"""Checking and training the homework's own files (the seed's starter-code layout).

This is the one place the app runs a user's Python. It happens only on an explicit Check
or Train action, always in a separate process (``sandbox``): a time limit per call, a
memory limit, a temporary working folder, the homework's folders on its import path. The
child (``child``) runs the checks (``checks``) or the training loop and sends results back
over a pipe of its own (``wire``), never through stdout.
"""
