"""Rules for cloud CLIs and object stores: deleting buckets, objects and resources.

These tools change things that are not on this machine and have no undo: a bucket
emptied by `aws s3 rm --recursive` or `rclone sync` is gone for everyone. Each CLI's
subcommand words are read after its global options; deletion, deploys and key rotation
are high. Listing, copying in and describing are everyday work.
"""

from __future__ import annotations

from collections.abc import Iterator

from workers.gate.argv import parse_options
from workers.gate.command import Command
from workers.gate.paths import Places
from workers.gate.verdict import Risk
from workers.gate.words import values

Found = Iterator[Risk | None]
AWS_VALUES = (
    "profile", "region", "output", "endpoint-url", "query", "color", "ca-bundle",
    "cli-read-timeout", "cli-connect-timeout", "cli-binary-format",
)  # fmt: skip
DELETE_PREFIXES = ("delete-", "terminate-", "purge-", "destroy-", "remove-", "deregister-")
AWS_KEYS = frozenset(("create-access-key", "delete-access-key", "update-access-key"))
AWS_DEPLOYS = frozenset(("deploy", "create-deployment", "update-function-code"))
RCLONE_DELETES = frozenset(("delete", "purge", "deletefile", "rmdir", "rmdirs", "sync"))


def _words(cmd: Command) -> list[str]:
    """The subcommand words: operands, options and their values left out when known."""
    return [w for w in values(list(cmd.args)) if not w.startswith("-")]


def aws(cmd: Command, places: Places) -> Found:
    """`aws s3 rm|rb`, `aws s3 sync --delete`, `aws <svc> delete-*`, deploys, keys."""
    opts = parse_options(cmd.args, "", AWS_VALUES, interleaved=True)
    words = values(opts.operands)
    service, op = ([*words, "", ""])[:2]
    shown = f"aws {service} {op}"
    if service == "s3" and (op in ("rm", "rb") or _s3_move(op, words)):
        yield Risk("high", f"deletes data from object storage ({shown})")
    elif service == "s3" and op == "sync" and opts.has("--delete"):
        yield Risk("high", f"deletes data from object storage ({shown} --delete)")
    elif op in AWS_KEYS:
        yield Risk("high", f"key rotation ({shown})")
    elif op.startswith(DELETE_PREFIXES) or op == "schedule-key-deletion":
        yield Risk("high", f"deletes cloud resources ({shown})")
    elif service == "deploy" or op in AWS_DEPLOYS or op.endswith("deploy"):
        yield Risk("high", f"deploy ({shown})")


def _s3_move(op: str, words: list[str]) -> bool:
    return op == "mv" and any(w.startswith("s3://") for w in words[2:3])


def gsutil(cmd: Command, places: Places) -> Found:
    """`gsutil rm|rb`, `gsutil rsync -d`, `gsutil mv gs://...`."""
    opts = parse_options(cmd.args, "uohi", ())
    words = values(opts.operands)
    op = words[0] if words else ""
    rest = parse_options(opts.operands[1:], "", (), interleaved=True)
    if op in ("rm", "rb") or (op == "rsync" and rest.has("-d")):
        yield Risk("high", f"deletes data from object storage (gsutil {op})")
    elif op == "mv" and any(w.startswith("gs://") for w in values(rest.operands)[:1]):
        yield Risk("high", "deletes data from object storage (gsutil mv)")


def gcloud(cmd: Command, places: Places) -> Found:
    """`gcloud ... delete`, `gcloud storage rm`, `gcloud ... deploy`, `... keys create`."""
    words = _words(cmd)
    shown = "gcloud " + " ".join(words[:4])
    if "keys" in words and ({"create", "delete"} & set(words)):
        yield Risk("high", f"key rotation ({shown})")
    elif "delete" in words or words[:2] in (["storage", "rm"], ["storage", "rb"]):
        yield Risk("high", f"deletes cloud resources ({shown})")
    elif "deploy" in words:
        yield Risk("high", f"deploy ({shown})")
    elif any(w.value == "--delete-unmatched-destination-objects" for w in cmd.args):
        yield Risk("high", f"deletes data from object storage ({shown})")


def az(cmd: Command, places: Places) -> Found:
    """`az ... delete`, `az ... deploy`, `az keyvault key rotate`."""
    words = _words(cmd)
    shown = "az " + " ".join(words[:4])
    if any(w.startswith("delete") or w in ("purge", "remove") for w in words):
        yield Risk("high", f"deletes cloud resources ({shown})")
    elif "rotate" in words:
        yield Risk("high", f"key rotation ({shown})")
    elif "deploy" in words or ("deployment" in words and "create" in words):
        yield Risk("high", f"deploy ({shown})")


def rclone(cmd: Command, places: Places) -> Found:
    """`rclone delete|purge|deletefile|rmdir|rmdirs|sync`."""
    words = _words(cmd)
    if words and words[0] in RCLONE_DELETES:
        yield Risk("high", f"deletes data from remote storage (rclone {words[0]})")


def minio(cmd: Command, places: Places) -> Found:
    """`mc rm|rb`, `mc mirror --remove`."""
    words = _words(cmd)
    op = words[0] if words else ""
    mirror_removes = op == "mirror" and any(w.value == "--remove" for w in cmd.args)
    if op in ("rm", "rb") or mirror_removes:
        yield Risk("high", f"deletes data from object storage (mc {op})")


def s3cmd(cmd: Command, places: Places) -> Found:
    """`s3cmd del|rm|rb`, `s3cmd sync --delete-removed`."""
    words = _words(cmd)
    op = words[0] if words else ""
    removes = op == "sync" and any(w.value == "--delete-removed" for w in cmd.args)
    if op in ("del", "rm", "rb", "deleteall") or removes:
        yield Risk("high", f"deletes data from object storage (s3cmd {op})")
