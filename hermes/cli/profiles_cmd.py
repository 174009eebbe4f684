"""`hermes profiles ...`: see which profiles exist and what each one does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hermes.cli.common import print_json
from hermes.cli.options import JsonFlag
from hermes.config import load_config
from hermes.errors import HermesError
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
    """List every profile: the built-ins and those in $HERMES_HOME/profiles (a broken
    file is listed with what is wrong with it, the others as usual)."""
    from profiles import profile_files, read_profile

    defaults = load_config().profile_defaults
    rows: list[tuple[Profile, Path]] = []
    broken: list[tuple[str, Path, str]] = []
    for name, path in sorted(profile_files(profiles_dir()).items()):
        try:
            rows.append((read_profile(path, defaults), path))
        except HermesError as exc:
            broken.append((name, path, str(exc)))
    if as_json:
        found = [_profile_json(p, path) for p, path in rows]
        found += [{"name": n, "source": str(p), "builtin": False, "error": e} for n, p, e in broken]
        print_json(sorted(found, key=lambda entry: str(entry["name"])))
        return
    from hermes.cli.text import show
    from hermes.cli.views import profiles_table

    show(profiles_table(rows, broken))


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
