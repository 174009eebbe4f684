"""Which rules judge which program, and the verdict over a whole command line.

Every simple command the line runs is judged by the rules for its program and by the
rules every command gets (redirections, running as another user, piping from the
network); the line's verdict is the worst of them, with what could not be read counted
as medium.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from workers.gate import cloud, data, escapes, fs, ops, vcs
from workers.gate.command import Command
from workers.gate.parse import read
from workers.gate.paths import TEMP_ROOTS, Places
from workers.gate.verdict import Risk, worst
from workers.gate.words import hole

Rule = Callable[[Command, Places], Iterable[Risk | None]]

EVERY: tuple[Rule, ...] = (ops.as_user, ops.downloaded, escapes.other_root)
LOCAL: tuple[Rule, ...] = (fs.redirections,)
TABLE: tuple[tuple[tuple[str, ...], tuple[Rule, ...]], ...] = (
    (("rm",), (fs.rm,)),
    (("unlink", "rmdir"), (fs.unlink,)),
    (("shred", "truncate"), (fs.shred,)),
    (("mv",), (fs.move,)),
    (("cp", "install", "ln"), (fs.copy,)),
    (("tee",), (fs.tee,)),
    (("sed", "perl"), (fs.in_place,)),
    (("dd",), (fs.dd,)),
    (("chmod", "chown", "chgrp"), (fs.permissions,)),
    (("find",), (fs.find,)),
    (("rsync",), (fs.rsync,)),
    (("scp",), (fs.scp,)),
    (("curl", "wget"), (fs.download,)),
    (("tar", "unzip", "bsdtar"), (fs.extract,)),
    (("mkfs", "mkswap", "wipefs", "fdisk", "sfdisk", "cfdisk", "gdisk", "sgdisk"), (fs.disks,)),
    (("parted", "blkdiscard"), (fs.disks,)),
    (("git",), (vcs.git,)),
    (("bfg",), (vcs.bfg,)),
    (
        ("psql", "mysql", "mariadb", "sqlite3", "sqlite", "sqlcmd", "clickhouse-client"),
        (data.sql_client,),
    ),
    (
        ("clickhouse", "cockroach", "duckdb", "pgcli", "mycli", "litecli", "usql"),
        (data.sql_client,),
    ),
    (("snowsql", "sqlplus", "mysqlsh", "bq"), (data.sql_client,)),
    (("mongo", "mongosh"), (data.mongo,)),
    (("redis-cli",), (data.redis,)),
    (("dropdb", "dropuser"), (data.dropdb,)),
    (("rails", "rake", "django-admin", "prisma", "flyway", "liquibase"), (data.frameworks,)),
    (("docker", "podman", "nerdctl", "docker-compose"), (data.containers,)),
    (("aws",), (cloud.aws,)),
    (("gsutil",), (cloud.gsutil,)),
    (("gcloud",), (cloud.gcloud,)),
    (("az",), (cloud.az,)),
    (("rclone",), (cloud.rclone,)),
    (("mc",), (cloud.minio,)),
    (("s3cmd",), (cloud.s3cmd,)),
    (("ssh-keygen", "gpg", "gpg2", "vault"), (ops.keys,)),
    (("ssh",), (ops.remote_shell,)),
    (("shutdown", "reboot", "poweroff", "halt", "init", "systemctl", "service"), (ops.machine,)),
    (("iptables", "ip6tables", "nft", "ufw", "kill", "crontab"), (ops.machine,)),
    (("apt", "apt-get", "aptitude", "dnf", "yum", "zypper", "microdnf", "snap"), (ops.packages,)),
    (
        ("brew", "port", "flatpak", "apk", "pacman", "pip", "pip3", "npm", "pnpm", "yarn"),
        (ops.packages,),
    ),
    (("pip", "pip3", "npm", "pnpm", "yarn"), (ops.config_set,)),
    (("kubectl", "helm", "vercel", "ansible-playbook", *ops.DEPLOY_VERBS), (ops.deploys,)),
    ((*ops.PUBLISH, "gh"), (ops.publishes,)),
    (tuple(escapes.SOURCES), (escapes.generated,)),
    (("docker", "podman", "nerdctl"), (escapes.host_container,)),
    (("pkill", "killall"), (escapes.mass_kill,)),
)


def _index(
    table: Iterable[tuple[tuple[str, ...], tuple[Rule, ...]]],
) -> dict[str, tuple[Rule, ...]]:
    out: dict[str, tuple[Rule, ...]] = {}
    for names, rules in table:
        for name in names:
            out[name] = out.get(name, ()) + rules
    return out


BY_PROGRAM = _index(TABLE)


def rules_for(command: Command) -> tuple[Rule, ...]:
    """The rules that judge `command`."""
    name = command.prog
    if name.startswith("mkfs."):
        name = "mkfs"
    own = BY_PROGRAM.get(name, ())
    if name.endswith("manage.py") or name.startswith("python"):
        own = (*own, data.frameworks)
    return EVERY + LOCAL + own


def judge(command: Command, places: Places) -> Iterable[Risk | None]:
    """Every risk the rules find in one simple command.

    A command run elsewhere (`docker exec`, `kubectl exec`) is judged against a machine
    with no workspace and no HOME, from a directory nobody knows: there, `rm -rf /data`
    is outside the workspace and `rm -rf build` depends on where it runs.
    """
    if command.remote is not None:
        where = f"the directory it runs in on {command.remote}"
        command = replace(command, cwd=hole(where), links=())
        places = Places("/\0elsewhere", None, TEMP_ROOTS)
    for rule in rules_for(command):
        yield from rule(command, places)


def command_lines(text: str, workspace: Path, env: Mapping[str, str]) -> list[str]:
    """Each simple command `text` runs, as text (wrappers such as `sudo` or `env`
    removed, `bash -c` strings unpacked): what a profile's approval patterns match."""
    script = read(text, Places.of(workspace, env), env)
    return [pattern_line(command) for command in script.commands]


def pattern_line(command: Command) -> str:
    """A command as a profile's patterns (`git push*`, `curl *`) expect to read it.

    The program by the name rules know it (`/usr/bin/curl` is `curl`), and git without
    its global options (`git -C . --no-pager push` is `git push`), so a pattern cannot
    be dodged by spelling the same command differently.
    """
    if not command.argv:
        return ""
    words = list(vcs.subcommand(command)) if command.prog == "git" else list(command.args)
    return " ".join([command.prog or command.argv[0].text, *(w.text for w in words)])


def assess(text: str, workspace: Path, env: Mapping[str, str]) -> Risk | None:
    """The risk of running `text` in `workspace` with `env`; None when not risky."""
    places = Places.of(workspace, env)
    script = read(text, places, env)
    found: list[Risk | None] = list(script.problems)
    for command in script.commands:
        found.extend(judge(command, places))
    found.extend(ops.fetched_scripts(script.commands, places))
    return worst(found)
