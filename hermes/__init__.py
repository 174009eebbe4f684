"""hermes: a durable kanban board worked by parallel agents.

This package is the command-line root. It must stay cheap to import: `hermes board add`
has to finish in well under a quarter of a second, so nothing heavy is imported here.
"""

__version__ = "0.1.0"
