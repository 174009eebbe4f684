"""Rules for operations beyond files: deploys, releases, keys, users, machines.

These are judged by what the command is rather than by paths: a deploy or a publish
reaches people outside the workspace whatever directory it runs in, running as another
user or on another machine escapes the workspace entirely, and a script piped from the
network is code nobody has read. Installing system packages or stopping services
changes the machine for everyone (medium).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from workers.gate.argv import parse_options
from workers.gate.command import Command
from workers.gate.paths import Places, where
from workers.gate.verdict import Risk
from workers.gate.words import lit, values
from workers.gate.wrappers import SHELLS, reads_stdin

Found = Iterator[Risk | None]
DOWNLOADERS = frozenset(("curl", "wget", "fetch", "http", "https", "xh", "aria2c"))
INTERPRETERS = SHELLS | frozenset(
    (
        "python",
        "python3",
        "python2",
        "perl",
        "ruby",
        "node",
        "php",
        "bun",
        "deno",
        "pwsh",
        "source",
        ".",
        "eval",
    )
)
CODE_FLAGS = frozenset(("-c", "-m", "-e", "-E", "-p", "-r", "--eval", "--print", "--command"))
KUBECTL = frozenset(
    (
        "apply",
        "delete",
        "rollout",
        "scale",
        "replace",
        "patch",
        "set",
        "edit",
        "create",
        "expose",
        "drain",
        "cordon",
        "uncordon",
        "taint",
        "label",
        "annotate",
        "autoscale",
    )
)
HELM = frozenset(("install", "upgrade", "uninstall", "delete", "rollback"))
DEPLOY_VERBS: dict[str, frozenset[str]] = {
    "terraform": frozenset(("apply", "destroy", "import", "taint")),
    "tofu": frozenset(("apply", "destroy", "import", "taint")),
    "pulumi": frozenset(("up", "destroy", "update")),
    "fly": frozenset(("deploy",)),
    "flyctl": frozenset(("deploy",)),
    "netlify": frozenset(("deploy",)),
    "serverless": frozenset(("deploy", "remove")),
    "sls": frozenset(("deploy", "remove")),
    "kamal": frozenset(("deploy", "rollback", "remove")),
    "cdk": frozenset(("deploy", "destroy")),
    "sam": frozenset(("deploy", "delete")),
    "firebase": frozenset(("deploy",)),
    "wrangler": frozenset(("deploy", "publish")),
    "railway": frozenset(("up",)),
}
PUBLISH: dict[str, frozenset[str]] = {
    "npm": frozenset(("publish", "unpublish")),
    "pnpm": frozenset(("publish",)),
    "yarn": frozenset(("publish",)),
    "twine": frozenset(("upload",)),
    "cargo": frozenset(("publish", "yank")),
    "gem": frozenset(("push", "yank")),
    "poetry": frozenset(("publish",)),
    "uv": frozenset(("publish",)),
    "flit": frozenset(("publish",)),
    "hatch": frozenset(("publish",)),
}
POWER = frozenset(("shutdown", "reboot", "poweroff", "halt"))
SERVICE_VERBS = frozenset(("stop", "disable", "mask", "kill", "restart"))
SYSTEMCTL_POWER = frozenset(("reboot", "poweroff", "halt", "kexec", "suspend", "hibernate"))


def as_user(cmd: Command, places: Places) -> Found:
    """`sudo`, `su`, `doas`, `runuser`, `pkexec`: the gate cannot follow another user."""
    if cmd.user is not None:
        yield Risk("high", f"runs as another user ({' '.join((cmd.user, cmd.line)).strip()})")


def downloaded(cmd: Command, places: Places) -> Found:
    """`curl ... | sh`, `bash <(curl ...)`, `sh -c "$(curl ...)"`, `eval "$(wget ...)"`."""
    if cmd.prog not in INTERPRETERS and not cmd.prog.startswith("python"):
        return
    fetched = any(DOWNLOADERS & w.ran for w in cmd.args)
    piped = any(c.prog in DOWNLOADERS for c in cmd.upstream) and _reads_stdin(cmd)
    if fetched or piped:
        yield Risk("high", f"runs a script downloaded from the network ({cmd.prog})")


def _reads_stdin(cmd: Command) -> bool:
    """Whether an interpreter takes its program from stdin (no script, no -c/-e)."""
    if cmd.prog in SHELLS:
        return reads_stdin(list(cmd.argv))
    words = values(list(cmd.args))
    if "-" in words:
        return True
    if any(w in CODE_FLAGS for w in words):
        return False
    return not any(not w.startswith("-") for w in words)


def _dry_run_flag(cmd: Command) -> bool:
    """`--dry-run` (`=client`, `=server`...): nothing is deployed or published."""
    return any(w.startswith("--dry-run") for w in values(list(cmd.args)))


def deploys(cmd: Command, places: Places) -> Found:
    """Deploys: kubectl, helm, terraform, pulumi, fly, vercel --prod, ansible-playbook..."""
    if _dry_run_flag(cmd):
        return
    words = [w for w in values(list(cmd.args)) if not w.startswith("-")]
    first = words[0] if words else ""
    name = cmd.prog
    hit = (
        (name == "kubectl" and first in KUBECTL and words[1:2] not in (["status"], ["history"]))
        or (name == "helm" and first in HELM)
        or first in DEPLOY_VERBS.get(name, frozenset())
        or (name == "vercel" and ("--prod" in values(list(cmd.args)) or first == "promote"))
        or (name == "ansible-playbook" and not _dry_run(cmd))
    )
    if hit and name == "kubectl" and first == "delete":
        yield Risk("high", f"deletes cluster resources ({cmd.line})")
    elif hit:
        yield Risk("high", f"deploy ({cmd.line})")


def _dry_run(cmd: Command) -> bool:
    return bool({"--check", "-C", "--syntax-check", "--list-tasks"} & set(values(list(cmd.args))))


def publishes(cmd: Command, places: Places) -> Found:
    """Publishing a package or a release: npm publish, twine upload, gh release create..."""
    if _dry_run_flag(cmd):
        return
    words = [w for w in values(list(cmd.args)) if not w.startswith("-")]
    verbs = PUBLISH.get(cmd.prog, frozenset())
    if words[:1] and (
        words[0] in verbs or (cmd.prog == "yarn" and words[:2] == ["npm", "publish"])
    ):
        yield Risk("high", f"publishes a release ({cmd.line})")
    if cmd.prog == "gh" and words[:2] in (["release", "create"], ["release", "upload"]):
        yield Risk("high", f"publishes a release ({cmd.line})")
    if cmd.prog == "gh" and words[1:2] == ["delete"] and words[:1] in (["repo"], ["release"]):
        yield Risk("high", f"deletes a repository or release ({cmd.line})")


def keys(cmd: Command, places: Places) -> Found:
    """Key rotation: new SSH keys in ~/.ssh, deleted GPG keys, vault rotations."""
    words = values(list(cmd.args))
    if cmd.prog == "ssh-keygen":
        yield from _ssh_keygen(cmd, places)
    elif cmd.prog in ("gpg", "gpg2") and any(w.startswith("--delete-") for w in words):
        yield Risk("high", f"key rotation: deletes GPG keys ({cmd.line})")
    elif cmd.prog == "vault" and any("rotate" in w for w in words):
        yield Risk("high", f"key rotation ({cmd.line})")


def _ssh_keygen(cmd: Command, places: Places) -> Found:
    opts = parse_options(cmd.args, "abCEfFIJjmNnOrtVwYZzs", (), interleaved=True)
    if opts.has("-l", "-y", "-F", "-B", "-e", "-i", "-Q", "-Y", "-L"):
        return
    if opts.has("-R"):
        yield Risk("medium", "ssh-keygen -R edits ~/.ssh/known_hosts")
        return
    target = opts.get("-f")
    kind = where(cmd.locate(target), places) if target is not None else "dotfile"
    if kind in ("dotfile", "home", "unknown", "system", "outside"):
        shown = target.text if target is not None else "~/.ssh/id_*"
        yield Risk("high", f"key rotation: writes an SSH key outside the workspace ({shown})")


def remote_shell(cmd: Command, places: Places) -> Found:
    """`ssh HOST COMMAND` runs a command on another machine."""
    values_ = "bcDEeFIiJLlmOopQRSWw"
    opts = parse_options(cmd.args, values_, ())
    if not opts.operands:
        return
    command = parse_options(opts.operands[1:], values_, ()).operands
    if command:
        yield Risk("high", f"runs a command on another machine (ssh {opts.operands[0].text})")


def machine(cmd: Command, places: Places) -> Found:
    """Power, firewall flushes, killing every process, services, cron."""
    words = values(list(cmd.args))
    name = cmd.prog
    if name in POWER or (name == "init" and words[:1] in (["0"], ["6"])):
        yield Risk("high", f"shuts down or reboots the machine ({cmd.line})")
    elif name == "systemctl":
        yield from _systemctl(cmd, words)
    elif name in ("iptables", "ip6tables") and {"-F", "--flush", "-X", "--delete-chain"} & set(
        words
    ):
        yield Risk("high", f"flushes the firewall ({cmd.line})")
    elif (name == "nft" and words[:2] == ["flush", "ruleset"]) or (
        name == "ufw" and words[:1] in (["disable"], ["reset"])
    ):
        yield Risk("high", f"flushes the firewall ({cmd.line})")
    elif name == "kill" and "-1" in _kill_targets(words):
        yield Risk("high", "kills every process the user can reach (kill -1)")
    elif name == "service" and len(words) >= 2 and words[1] in SERVICE_VERBS:
        yield Risk("medium", f"stops or restarts a service ({cmd.line})")
    elif name == "crontab":
        yield from _crontab(words)


def _systemctl(cmd: Command, words: list[str]) -> Found:
    verbs = [w for w in words if not w.startswith("-")]
    if verbs[:1] and verbs[0] in SYSTEMCTL_POWER:
        yield Risk("high", f"shuts down or reboots the machine ({cmd.line})")
    elif verbs[:1] and verbs[0] in SERVICE_VERBS:
        yield Risk("medium", f"stops or disables a service ({cmd.line})")


def _kill_targets(words: list[str]) -> list[str]:
    """The pids `kill` signals (after `-9`, `-s KILL`, `-n 9`, `--`)."""
    i = 0
    if words[:1] in (["-s"], ["-n"]):
        i = 2
    elif words[:1] and words[0].startswith("-") and words[0] not in ("--", "-1"):
        i = 1
    if words[i : i + 1] == ["--"]:
        i += 1
    return words[i:]


def _crontab(words: list[str]) -> Found:
    if "-r" in words:
        yield Risk("high", "crontab -r deletes every scheduled job")
    elif "-l" not in words:
        yield Risk("medium", "crontab replaces or edits scheduled jobs")


def packages(cmd: Command, places: Places) -> Found:
    """System-wide installs and removals: apt, dnf, pacman, brew, npm -g..."""
    words = values(list(cmd.args))
    verbs = [w for w in words if not w.startswith("-")]
    if _installs(cmd.prog, words, verbs):
        yield Risk("medium", f"installs or removes system packages ({cmd.line})")


def _installs(name: str, words: list[str], verbs: list[str]) -> bool:
    first = verbs[0] if verbs else ""
    if name in ("apt", "apt-get", "aptitude", "snap"):
        return first in SYSTEM_VERBS
    if name in ("dnf", "yum", "zypper", "microdnf"):
        return first in SYSTEM_VERBS | {"update"}
    if name in ("brew", "port", "flatpak", "apk"):
        return first in SYSTEM_VERBS | {"add", "del", "tap", "untap", "link", "unlink"}
    if name == "pacman":
        return any(w[:2] in ("-S", "-R", "-U") or w in ("--sync", "--remove") for w in words)
    if name in ("npm", "pnpm") and first in NPM_VERBS:
        return bool({"-g", "--global", "--location=global"} & set(words))
    if name == "yarn":
        return first == "global"
    if name in ("pip", "pip3"):
        return first == "install" and bool({"--user", "--break-system-packages"} & set(words))
    return False


def config_set(cmd: Command, places: Places) -> Found:
    """`npm config set`, `pip config set`...: user-wide configuration."""
    verbs = [w for w in values(list(cmd.args)) if not w.startswith("-")]
    if verbs[:2] in (["config", "set"], ["config", "unset"], ["config", "delete"]):
        yield Risk("medium", f"changes configuration outside the workspace ({cmd.line})")


SYSTEM_VERBS = frozenset(
    (
        "install",
        "remove",
        "purge",
        "autoremove",
        "upgrade",
        "full-upgrade",
        "dist-upgrade",
        "reinstall",
        "erase",
        "downgrade",
        "uninstall",
    )
)
NPM_VERBS = frozenset(("install", "i", "add", "uninstall", "remove", "rm", "un", "update", "link"))


def fetched_scripts(commands: list[Command], places: Places) -> Found:
    """`curl -o x.sh URL && sh x.sh`: a downloaded file later run as a program."""
    saved: set[str] = set()
    for cmd in commands:
        if cmd.prog in ("curl", "wget"):
            saved.update(_saved(cmd))
            continue
        script = _script(cmd)
        if script is not None and script in saved:
            name = os.path.basename(script)
            yield Risk("high", f"runs a script downloaded from the network ({name})")


def _saved(cmd: Command) -> Iterator[str]:
    """Where curl/wget save what they fetch (`-o FILE`, `-O`, wget's default name)."""
    short = "oHdXuAeEFrTwKxyzYmbc" if cmd.prog == "curl" else "OPaoTtUeBi"
    opts = parse_options(cmd.args, short, ("output", "output-document", "header"), True)
    target = (
        opts.get("-o", "--output") if cmd.prog == "curl" else opts.get("-O", "--output-document")
    )
    names = [target] if target is not None else []
    if target is None and (cmd.prog == "wget" or opts.has("-O", "--remote-name")):
        names = [lit(_url_name(w.text)) for w in opts.operands if "://" in w.text]
    for word in names:
        loc = cmd.locate(word)
        if loc.path is not None and not loc.pattern:
            yield loc.path


def _url_name(url: str) -> str:
    return url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "index.html"


def _script(cmd: Command) -> str | None:
    """The file a command runs as a program: `sh FILE`, `python FILE`, `./FILE`."""
    word = None
    if cmd.argv and "/" in cmd.prog:
        word = cmd.argv[0]
    elif cmd.prog in INTERPRETERS or cmd.prog.startswith("python"):
        operands = [w for w in cmd.args if not (w.value or "-").startswith("-")]
        word = operands[0] if operands else None
    if word is None:
        return None
    loc = cmd.locate(word)
    return loc.path if not loc.pattern else None
