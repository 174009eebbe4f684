"""The MCP SDK takes about two seconds to import: the command line's quick paths, and an
agent run whose profile has no MCP servers, must never load it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = (
    "import sys; from hermes.cli import main; "
    "codes = [main(['board', 'add', 'x', '--no-repo']), main(['mcp', '--help'])]; "
    "import workers.agent.toolbox, workers.runners.agent, profiles.model; "
    "print(codes, sorted(m for m in ('mcp', 'mcp_types') if m in sys.modules), file=sys.stderr)"
)


def test_quick_commands_and_agents_without_servers_never_import_mcp(hermes_home: Path) -> None:
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1] == "[0, 0] []"
