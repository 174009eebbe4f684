"""rich helpers for the views that use rich (`skills list` and `skills show`, which
render a skill's Markdown).

Every board view, `dispatcher status` included, is drawn without rich, in
`hermes.cli.views`: rich costs more to import than those commands may take. Imported
lazily by the commands that print with rich.
"""

from __future__ import annotations

from rich.text import Text

from hermes.cli.printable import printable


def plain(value: str, style: str = "") -> Text:
    """User or agent text as a rich Text: never read as markup, control characters shown."""
    return Text(printable(value), style=style)
