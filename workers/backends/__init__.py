"""Where card work executes: `local` processes or a bubblewrap `sandbox` (see
`workers.backends.base` for the seam and docs/security.md for what each protects)."""

from __future__ import annotations

from pathlib import Path

from profiles.model import BackendSpec
from workers.backends.base import Backend, BackendUnavailable, Execution, Sink
from workers.backends.local import LocalBackend
from workers.backends.network import slirp
from workers.backends.sandbox import SandboxBackend, probe

__all__ = [
    "Backend",
    "BackendUnavailable",
    "Execution",
    "Sink",
    "backend_for",
    "probe",
    "slirp",
]


def backend_for(
    spec: BackendSpec, *, hide: tuple[Path, ...] = (), readonly: tuple[Path, ...] = ()
) -> tuple[Backend, str | None]:
    """The backend a profile's `backend` setting means on this machine, and a note when
    `auto` had to fall back to `local` (said in the run log)."""
    if spec.kind == "local":
        return LocalBackend(), None
    problem = probe()
    if problem is not None:
        if spec.kind == "sandbox":
            raise BackendUnavailable(
                f"the profile asks for backend sandbox, but {problem}; install it, or set "
                "`backend: local` in the profile to run without a sandbox"
            )
        return LocalBackend(), f"no sandbox on this machine: {problem}"
    sandbox = SandboxBackend(
        network=spec.network, expose=tuple(spec.expose), hide=hide, readonly=readonly
    )
    return sandbox, None
