"""File > Check my code...: the checklist of the user's homework functions (run by
``nets.homework`` in a separate process, through a worker)."""
