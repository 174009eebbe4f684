"""The approval gate: reads a shell command as bash would and says how risky it is.

An agent's shell command is parsed with bash's own grammar (tree-sitter-bash) into the
simple commands it would run (`parse`), their words expanded as far as they can be known
before running (`expand`), their paths resolved as the kernel would (`paths`), and each
judged by the rules of the approval contract (`rules`). The public face is
`workers.agent.risk.classify`; this package is how it decides.

It is a seat belt for an honest agent, not a sandbox against a hostile one: what cannot be
known (a variable's value, a command's output) is never assumed harmless.
"""

from __future__ import annotations

from workers.gate.rules import assess, command_lines
from workers.gate.verdict import Level, Risk

__all__ = ["Level", "Risk", "assess", "command_lines"]
