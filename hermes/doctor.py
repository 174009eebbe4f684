"""`hermes doctor`: what works on this machine, and what to do about what does not.

Each check is a name, a status (`ok`, `warn`: works but less well or less safely than it
could, `fail`: something hermes needs is broken) and one line of detail that names the
fix. Secrets are named, never shown: a key is `set` or `not set`.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any, Literal

from hermes import __version__
from hermes.errors import HermesError
from hermes.paths import board_url, ensure_home, hermes_home, profiles_dir

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One finding."""

    name: str
    status: Status
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The check as `--json` prints it."""
        return asdict(self)


def run_checks() -> list[Check]:
    """Every check, in the order a person reads them."""
    checks = [Check("hermes", "ok", f"{__version__} on Python {sys.version.split()[0]}")]
    checks += [_git(), _home(), _board(), _sandbox(), _network()]
    checks += _profiles()
    checks += _backends()
    return checks


def _git() -> Check:
    git = shutil.which("git")
    if git is None:
        return Check("git", "fail", "git is not installed; install it (cards with a repo need it)")
    version = _output([git, "--version"]).removeprefix("git version ")
    if not _output([git, "config", "user.email"]):
        return Check("git", "ok", f"{version}; no identity set, hermes commits as hermes")
    return Check("git", "ok", version)


def _home() -> Check:
    home = hermes_home()
    before = stat.S_IMODE(home.stat().st_mode) if home.exists() else None
    try:
        ensure_home()
    except HermesError as exc:
        return Check("home", "fail", str(exc))
    mode = stat.S_IMODE(home.stat().st_mode)
    if before is not None and before & 0o077 and not mode & 0o077:
        return Check("home", "ok", f"{home} was readable by others ({before:o}): now {mode:o}")
    if mode & 0o077:
        return Check("home", "warn", f"{home} is {mode:o}, readable by others; chmod 700 it")
    return Check("home", "ok", f"{home} (private, {mode:o})")


def _board() -> Check:
    from board import open_store
    from board.clock import utcnow

    try:
        with open_store(board_url()) as store:
            count = store.stats(utcnow())["cards"]
    except HermesError as exc:
        return Check("board", "fail", str(exc))
    where = os.environ.get("HERMES_DB_URL") or str(hermes_home() / "board.db")
    return Check("board", "ok", f"{where} ({count} cards)")


def _sandbox() -> Check:
    from workers.backends import probe

    problem = probe()
    if problem is not None:
        return Check(
            "sandbox",
            "warn",
            f"{problem}; profiles with backend auto run card work unsandboxed (local)",
        )
    return Check("sandbox", "ok", "bubblewrap works: backend auto runs card work sandboxed")


def _network() -> Check:
    from workers.backends import slirp

    if slirp() is None:
        return Check(
            "network",
            "warn",
            "slirp4netns is not installed: a sandbox with `network: true` shares this "
            "machine's network, its local services included (apt install slirp4netns)",
        )
    return Check("network", "ok", "slirp4netns: a sandbox's network is outbound only")


def _profiles() -> list[Check]:
    from hermes.config import load_config
    from profiles import profile_files, read_profile

    checks: list[Check] = []
    try:
        defaults = load_config().profile_defaults
    except HermesError as exc:
        return [Check("settings", "fail", str(exc))]
    for name, path in sorted(profile_files(profiles_dir()).items()):
        try:
            profile = read_profile(path, defaults)
        except HermesError as exc:
            checks.append(Check(f"profile {name}", "fail", str(exc)))
            continue
        checks.append(_profile(profile))
    return checks


def _profile(profile: Any) -> Check:
    from workers.backends import probe

    name = f"profile {profile.name}"
    backend = profile.backend.kind
    if backend == "auto":
        backend = "auto (sandbox)" if probe() is None else "auto (local: no sandbox here)"
    elif backend == "sandbox" and probe() is not None:
        return Check(name, "fail", f"backend sandbox, but {probe()}")
    if profile.runner == "cli":
        binary = (profile.command or ["?"])[0]
        if shutil.which(binary) is None:
            return Check(name, "warn", f"cli agent {binary!r} is not on PATH; install it to use")
        return Check(name, "ok", f"cli agent {binary}, backend {backend}")
    if profile.runner == "command":
        return Check(name, "ok", f"command, backend {backend}")
    env = profile.api_key_env
    if env is not None and not os.environ.get(env):
        fix = f"set {env} (not set), or choose another model with `hermes init`"
        return Check(name, "warn", f"model {profile.model}: {fix}")
    key = f"{env} set" if env else "no key needed"
    return Check(name, "ok", f"model {profile.model}, {key}, backend {backend}")


def _backends() -> list[Check]:
    """The docker daemon (reachable, its version) and each ssh profile's host (is its
    key known?), for the profiles that use them; nothing is connected to over ssh."""
    from hermes.config import load_config
    from profiles import list_profiles

    try:
        profiles = [p for p, _ in list_profiles(profiles_dir(), load_config().profile_defaults)]
    except HermesError:
        return []  # the profile checks above already say what is wrong
    docker = [p for p in profiles if p.backend.kind == "docker"]
    ssh = [p for p in profiles if p.backend.kind == "ssh"]
    checks = [_docker(p.name, p.backend.docker_host) for p in docker] or [_docker(None, None)]
    checks += [_ssh(p.name, p.backend) for p in ssh]
    return checks


def _docker(profile: str | None, docker_host: str | None) -> Check:
    from workers.backends import BackendUnavailable

    name = "docker" if profile is None else f"docker (profile {profile})"
    try:
        from workers.backends.container import endpoint, version

        found = version(docker_host)
    except BackendUnavailable as exc:
        if profile is None:
            return Check(name, "ok", f"no profile uses it ({str(exc).split(';')[0]})")
        return Check(name, "fail", str(exc))
    users = "no profile uses it yet" if profile is None else "used by this profile"
    return Check(name, "ok", f"daemon {found} at {endpoint(docker_host)}; {users}")


def _ssh(profile: str, spec: Any) -> Check:
    from workers.backends import BackendUnavailable

    name = f"ssh (profile {profile})"
    try:
        from workers.backends.remote import host_known, known_hosts_file, where

        problem = host_known(spec)
    except BackendUnavailable as exc:
        return Check(name, "fail", str(exc))
    if problem is not None:
        fix = f"check its fingerprint, then add it to {known_hosts_file(spec)} or pin it"
        return Check(name, "fail", f"{where(spec)}: host key unknown ({problem}); {fix}")
    trust = "pinned host key" if spec.host_key else f"host key in {known_hosts_file(spec)}"
    return Check(name, "ok", f"{where(spec)}, {trust}, key_file {spec.key_file}")


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
