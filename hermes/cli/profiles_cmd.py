"""`hermes profiles ...`: see which profiles exist and what each one does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hermes.cli.common import print_json
from hermes.cli.options import JsonFlag
from hermes.config import load_config
from hermes.paths import profiles_dir
from profiles import is_builtin

if TYPE_CHECKING:
    from profiles import Profile

profiles_app = typer.Typer(help="List and inspect worker profiles.", no_args_is_help=True)


def _profile_json(profile: Profile, path: Path) -> dict[str, Any]:
    """All fields, plus where the profile comes from."""
    return {**profile.model_dump(mode="json"), "source": str(path), "builtin": is_builtin(path)}


@profiles_app.command("list")
def list_profiles_cmd(as_json: JsonFlag = False) -> None:
    """List every profile: the built-ins and those in $HERMES_HOME/profiles."""
    from profiles import list_profiles

    rows = list_profiles(profiles_dir(), load_config().profile_defaults)
    if as_json:
        print_json([_profile_json(p, path) for p, path in rows])
        return
    from hermes.cli.text import show
    from hermes.cli.views import profiles_table

    show(profiles_table(rows))


@profiles_app.command("show")
def show_profile(
    name: Annotated[str, typer.Argument(help="The profile's name.")],
    as_json: JsonFlag = False,
) -> None:
    """Show every field of one profile and the file it comes from."""
    from profiles import profile_file, read_profile

    path = profile_file(name, profiles_dir())
    profile = read_profile(path, load_config().profile_defaults)
    if as_json:
        print_json(_profile_json(profile, path))
        return
    from hermes.cli.text import show
    from hermes.cli.views import profile_view

    show(profile_view(profile, path))
