"""`hermes cron ...`: schedules that create a card on every fire.

Jobs live on the board; a running dispatcher (`hermes dispatcher start` or `hermes up`)
fires them. See docs/cron.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from board.clock import utcnow
from hermes.cli.common import open_board, print_json
from hermes.cli.options import JobId, JsonFlag, read_body

cron_app = typer.Typer(help="Schedules that create cards on every fire.", no_args_is_help=True)


@cron_app.command("add")
def add(
    schedule: Annotated[str, typer.Argument(metavar="SCHEDULE", help="When to fire (see docs).")],
    title: Annotated[str, typer.Argument(metavar="TITLE", help="The title of each card.")],
    body: Annotated[str | None, typer.Option(metavar="TEXT", help="Each card's body.")] = None,
    body_file: Annotated[
        str | None,
        typer.Option("--body-file", metavar="PATH", help="Read the body from PATH or -."),
    ] = None,
    profile: Annotated[str, typer.Option(metavar="NAME", help="Profile of each card.")] = "default",
    repo: Annotated[
        Path | None, typer.Option(metavar="PATH", help="Repository (default: the current one).")
    ] = None,
    no_repo: Annotated[
        bool, typer.Option("--no-repo", help="Cards get a scratch directory.")
    ] = False,
    tz: Annotated[
        str | None, typer.Option(metavar="ZONE", help="Time zone (default: this machine's).")
    ] = None,
    overlap: Annotated[
        str, typer.Option(metavar="skip|allow", help="Fire while the last card is unfinished?")
    ] = "skip",
    deliver: Annotated[
        str | None, typer.Option(metavar="PLATFORM:CHAT", help="Where results are sent (chat).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a schedule; prints the job id (or the job as JSON)."""
    from hermes.intake import JobRequest, add_job

    request = JobRequest(
        schedule=schedule,
        title=title,
        body=read_body(body, body_file),
        profile=profile,
        repo=repo,
        no_repo=no_repo,
        tz=tz,
        overlap=overlap,
        deliver=deliver,
    )
    with open_board() as store:
        job_id = add_job(store, request, store.now())  # the first fire by the board's clock
        if as_json:
            print_json(store.job(job_id).to_json())
            return
    print(job_id)


@cron_app.command("list")
def list_jobs(as_json: JsonFlag = False) -> None:
    """Every job: its schedule, next fire, last card and that card's status."""
    with open_board() as store:
        if as_json:
            from hermes.reports import cron_jobs

            print_json(cron_jobs(store))
            return
        jobs = store.jobs()
        last = {j.id: store.card(j.last_card_id) for j in jobs if j.last_card_id is not None}
    from hermes.cli.text import show
    from hermes.cli.views import jobs_table

    show(jobs_table(jobs, last, utcnow()))


@cron_app.command("rm")
def remove(job: JobId) -> None:
    """Delete a job (the cards it created stay)."""
    with open_board() as store:
        store.remove_job(job)
    print(f"cron job {job} removed")


@cron_app.command("pause")
def pause(job: JobId) -> None:
    """Stop a job firing until it is resumed."""
    with open_board() as store:
        store.set_paused(job, utcnow(), True, None)
    print(f"cron job {job} paused")


@cron_app.command("resume")
def resume(job: JobId) -> None:
    """Fire again from the next scheduled time (fires while paused are not made up)."""
    from dispatcher.schedule import first_fire, zone

    with open_board() as store:
        now = store.now()
        found = store.job(job)
        next_fire = first_fire(found.schedule, zone(found.tz), now)
        store.set_paused(job, now, False, next_fire)
    print(f"cron job {job} resumed; next fire {next_fire.astimezone():%Y-%m-%d %H:%M:%S}")


@cron_app.command("run")
def run_now(job: JobId, as_json: JsonFlag = False) -> None:
    """Create the job's card now (the schedule is unchanged); prints the card id."""
    from board.clock import iso
    from dispatcher.cron import job_card

    now = utcnow()
    with open_board() as store:
        found = store.job(job)
        card = job_card(found, f"cron:{job}:run:{iso(now)}", now)
        card_id = store.run_job_now(job, card, now)
        if as_json:
            print_json(store.card(card_id).to_json())
            return
    print(card_id)
