"""`hermes profiles ...`: see which profiles exist and what each one does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hermes.cli.common import print_json
from hermes.cli.options import JsonFlag
from hermes.config import load_config
from hermes.errors import HermesError
from hermes.paths import profile_cache_file, profiles_dir
from profiles import is_builtin

if TYPE_CHECKING:
    pass

profiles_app = typer.Typer(help="List and inspect worker profiles.", no_args_is_help=True)


def _profile_json(fields: dict[str, Any], path: Path) -> dict[str, Any]:
    """All fields (as `Profile.model_dump(mode="json")`), plus where the profile comes
    from."""
    return {**fields, "source": str(path), "builtin": is_builtin(path)}


@profiles_app.command("list")
def list_profiles_cmd(as_json: JsonFlag = False) -> None:
    """List every profile: the built-ins and those in $HERMES_HOME/profiles (a broken
    file is listed with what is wrong with it, the others as usual)."""
    from profiles import profile_files
    from profiles.cache import profile_fields

    files = sorted(profile_files(profiles_dir()).items())
    found = profile_fields(
        [path for _, path in files], profile_cache_file(), load_config().profile_defaults
    )
    rows: list[tuple[dict[str, Any], Path]] = []
    broken: list[tuple[str, Path, str]] = []
    for name, path in files:
        fields = found[path]
        if isinstance(fields, HermesError):
            broken.append((name, path, str(fields)))
        else:
            rows.append((fields, path))
    if as_json:
        listed = [_profile_json(f, path) for f, path in rows]
        listed += [
            {"name": n, "source": str(p), "builtin": False, "error": e} for n, p, e in broken
        ]
        print_json(sorted(listed, key=lambda entry: str(entry["name"])))
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
        print_json(_profile_json(profile.model_dump(mode="json"), path))
        return
    from hermes.cli.text import show
    from hermes.cli.views import profile_view

    show(profile_view(profile, path))
