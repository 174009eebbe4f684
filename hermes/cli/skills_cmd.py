"""`hermes skills ...`: the procedures agents can read and add to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hermes.cli.common import print_json
from hermes.cli.options import JsonFlag
from hermes.paths import skills_dir

skills_app = typer.Typer(help="List, read and add agent skills.", no_args_is_help=True)


@skills_app.command("list")
def list_cmd(as_json: JsonFlag = False) -> None:
    """Every skill (built-in and yours) with its one-line description."""
    from skills import list_skills

    found = list_skills(skills_dir())
    if as_json:
        print_json([skill.to_json() for skill in found])
        return
    from rich.table import Table
    from rich.text import Text

    from hermes.cli.console import console
    from hermes.cli.render import plain

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for skill in found:
        origin = "built-in" if skill.builtin else "yours"
        table.add_row(
            plain(skill.name), Text.assemble(plain(skill.description), (f"  ({origin})", "dim"))
        )
    console().print(table)


@skills_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The skill's name.")],
    as_json: JsonFlag = False,
) -> None:
    """A skill's full instructions and where it lives."""
    from skills import load_skill

    skill = load_skill(name, skills_dir())
    if as_json:
        print_json(skill.to_json(with_body=True))
        return
    from rich.markdown import Markdown
    from rich.text import Text

    from hermes.cli.console import console
    from hermes.cli.printable import printable
    from hermes.cli.render import plain

    out = console()
    out.print(Text.assemble(plain(skill.name, "bold"), "  ", plain(skill.description, "dim")))
    out.print(plain(str(skill.path), "dim"))
    out.print(Markdown(printable(skill.body)))


@skills_app.command("rm")
def rm(name: Annotated[str, typer.Argument(help="The skill's name.")]) -> None:
    """Remove one of your skills (a built-in it replaced comes back)."""
    from skills import remove_skill

    builtin = remove_skill(skills_dir(), name)
    back = f"; the built-in {name} is used again" if builtin else ""
    print(f"removed skill {name}{back}")


@skills_app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="A folder with a SKILL.md, or the SKILL.md.")],
) -> None:
    """Copy a skill folder into your library ($HERMES_HOME/skills), checking it first."""
    from skills import add_skill

    skill = add_skill(skills_dir(), path.expanduser().resolve())
    print(f"added skill {skill.name} ({skill.path.parent})")
