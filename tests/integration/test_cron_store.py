"""Cron jobs on a real board, fired with literal times: one card per fire, catch-up folded
into one late card, overlaps skipped, fires claimed once however many try."""

from __future__ import annotations

from datetime import timedelta

import pytest

from board import NewCard, Store
from board.clock import iso
from board.cron_ops import NewJob
from dispatcher.cron import fire_due
from dispatcher.schedule import first_fire, zone
from hermes.errors import NotFound
from tests.conftest import T0

UTC = zone("UTC")


def job(store: Store, schedule: str = "every 2 seconds", **fields: object) -> int:
    new = NewJob(schedule=schedule, tz="UTC", title="tick", profile="shell", body="true", **fields)  # type: ignore[arg-type]
    return store.add_job(new, T0, first_fire(schedule, UTC, T0))


def cards_of(store: Store, job_id: int) -> list[tuple[str | None, list[str]]]:
    return [(c.key, c.labels) for c in store.children_of_source(f"cron:{job_id}")]


def test_a_new_job_waits_for_its_first_fire(store: Store) -> None:
    job_id = job(store)
    found = store.job(job_id)
    assert (found.next_fire_at, found.paused, found.overlap) == (
        iso(T0 + timedelta(seconds=2)),
        False,
        "skip",
    )
    assert fire_due(store, T0 + timedelta(seconds=1)) == []
    assert [e["kind"] for e in store.job_events(job_id)] == ["created"]


def test_each_fire_creates_one_card_with_a_unique_key(store: Store) -> None:
    job_id = job(store, overlap="allow")
    assert len(fire_due(store, T0 + timedelta(seconds=2.1))) == 1
    assert fire_due(store, T0 + timedelta(seconds=2.5)) == []
    assert len(fire_due(store, T0 + timedelta(seconds=4.0))) == 1
    keys = [k for k, _ in cards_of(store, job_id)]
    assert keys == [f"cron:{job_id}:{iso(T0 + timedelta(seconds=s))}" for s in (2, 4)]
    card = store.card(store.job(job_id).last_card_id or 0)
    assert (card.source, card.profile, card.labels, card.body) == (
        f"cron:{job_id}",
        "shell",
        ["cron"],
        "true",
    )


def test_missed_fires_become_one_late_card(store: Store) -> None:
    job_id = job(store, overlap="allow")
    reports = fire_due(store, T0 + timedelta(seconds=61.5))
    assert reports == [
        f"cron job {job_id} fired: card 1 'tick' (late: 29 earlier fire(s) folded in)"
    ]
    assert cards_of(store, job_id) == [
        (f"cron:{job_id}:{iso(T0 + timedelta(seconds=60))}", ["cron", "late"])
    ]
    assert store.job(job_id).next_fire_at == iso(T0 + timedelta(seconds=62))
    fired = store.job_events(job_id)[-1]
    assert (fired["kind"], fired["data"]["missed"], fired["data"]["late"]) == ("fired", 29, True)


def test_a_fire_is_claimed_once(store: Store) -> None:
    """Two dispatchers reading the same due fire: only the first creates a card."""
    job_id = job(store, overlap="allow")
    stale = store.job(job_id)
    assert len(fire_due(store, T0 + timedelta(seconds=2))) == 1
    assert stale.next_fire_at is not None
    again = store.fire_job(
        job_id,
        stale.next_fire_at,
        T0 + timedelta(seconds=4),
        None,
        T0,
        {"fire_at": stale.next_fire_at},
    )
    assert again is None and len(cards_of(store, job_id)) == 1


def test_overlapping_fires_are_skipped_while_the_last_card_is_unfinished(store: Store) -> None:
    job_id = job(store)
    fire_due(store, T0 + timedelta(seconds=2))
    reports = fire_due(store, T0 + timedelta(seconds=4))
    assert reports == [f"cron job {job_id} skipped a fire: card 1 of the last fire is still ready"]
    assert len(cards_of(store, job_id)) == 1
    assert store.job_events(job_id)[-1]["kind"] == "skipped"
    store.cancel(1, T0)
    assert len(fire_due(store, T0 + timedelta(seconds=6))) == 1


def test_pause_resume_run_and_remove(store: Store) -> None:
    job_id = job(store, overlap="allow")
    store.set_paused(job_id, T0, True, None)
    assert fire_due(store, T0 + timedelta(minutes=5)) == []
    resume_at = T0 + timedelta(minutes=5)
    store.set_paused(job_id, resume_at, False, first_fire("every 2 seconds", UTC, resume_at))
    assert (
        len(fire_due(store, resume_at + timedelta(seconds=2))) == 1
    )  # not a catch-up for the pause
    assert [lab for _, lab in cards_of(store, job_id)] == [["cron"]]
    from dispatcher.cron import job_card

    manual = store.run_job_now(job_id, job_card(store.job(job_id), "cron:1:run:now", T0), T0)
    assert store.job(job_id).last_card_id == manual
    assert [e["kind"] for e in store.job_events(job_id)] == [
        "created",
        "paused",
        "resumed",
        "fired",
        "run",
    ]
    store.remove_job(job_id)
    with pytest.raises(NotFound, match="cron job 1 does not exist"):
        store.job(job_id)
    assert len(cards_of(store, job_id)) == 2  # the cards stay


def test_a_job_whose_profile_is_gone_records_why_and_moves_on(
    store: Store, hermes_home: object
) -> None:
    job_id = store.add_job(
        NewJob("every 2 seconds", "UTC", "t", "ghost"), T0, T0 + timedelta(seconds=2)
    )
    reports = fire_due(store, T0 + timedelta(seconds=2))
    assert reports[0].startswith(f"cron job {job_id} skipped a fire: unknown profile 'ghost'")
    assert store.job(job_id).next_fire_at == iso(T0 + timedelta(seconds=4))


def test_a_job_that_cannot_be_scheduled_is_paused_and_the_others_still_fire(
    store: Store,
) -> None:
    broken, healthy = job(store), job(store)
    # as if the system lost the job's time zone after it was added
    store.db.cx.execute("UPDATE cron_jobs SET tz = 'Mars/Olympus' WHERE id = :id", {"id": broken})
    reports = fire_due(store, T0 + timedelta(seconds=3))
    assert reports[0].startswith(f"warning: cron job {broken} paused, its schedule cannot")
    assert "Mars/Olympus" in reports[0] and f"hermes cron rm {broken}" in reports[0]
    assert f"cron job {healthy} fired" in reports[1]
    assert store.job(broken).paused and not store.job(healthy).paused
    paused = store.job_events(broken)[-1]
    assert paused["kind"] == "paused" and "Mars/Olympus" in paused["data"]["reason"]
    later = fire_due(store, T0 + timedelta(seconds=7))  # the paused job stays quiet
    assert later and all(f"cron job {broken} " not in r for r in later)


def test_a_job_that_delivers_subscribes_its_chat_to_every_fire(store: Store) -> None:
    job_id = job(store, overlap="allow", deliver="telegram:4242")
    fire_due(store, T0 + timedelta(seconds=2.1))
    by_hand = store.run_job_now(job_id, store_card(store, job_id), T0 + timedelta(seconds=3))
    subs = store.subscriptions("telegram")
    assert [(s.chat, s.mode) for s in subs] == [("4242", "result"), ("4242", "result")]
    assert subs[1].card_id == by_hand
    assert store.pending_events(subs[0])[0].kind == "created"  # its whole story is told
    quiet = job(store, overlap="allow")
    fire_due(store, T0 + timedelta(seconds=4.1))
    assert len(store.subscriptions()) == 3  # the other fire of the first job; none for `quiet`
    assert quiet


def store_card(store: Store, job_id: int) -> NewCard:
    found = store.job(job_id)
    return NewCard(found.title, found.profile, 1, body=found.body, source=f"cron:{job_id}")
