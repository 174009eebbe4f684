"""Every SQL statement the board issues, in one place (the store is the only caller).

Plain SQL with `:name` parameters, written once in what SQLite and PostgreSQL both speak
(`RETURNING`, `ON CONFLICT`, `WITH`, `TRUE`/`FALSE`, quoted `"user"`); the few statements
the engines spell differently (row locks, the claim, the larger of two values, a
comparison with NULL) are in `DialectSql` at the end, one instance per engine.

State changes are conditional UPDATEs (`WHERE id = :id AND status = :from` or
`AND run_id = :run_id`): a stale caller changes nothing instead of overwriting someone
else's work, and the store checks the row count of each.

Statuses appear as literals where an index depends on it: SQLite uses the partial index
`ix_cards_ready` only when the query says `status = 'ready'` word for word.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

CARD_COLUMNS = (
    "id, title, body, status, profile, priority, labels, parent_id, source, key, "
    "not_before, repo, base, branch, worktree, attempts, max_attempts, timeout, result, "
    "created_at, updated_at, run_id, model, archived_at"
)
RUN_COLUMNS = (
    "id, card_id, attempt, worker, host, pid, started_at, heartbeat_at, lease_expires_at, "
    "ended_at, outcome, exit_code, error, tokens_in, tokens_out, cost_usd, runner_pid"
)

# -- cards ---------------------------------------------------------------------------

INSERT_CARD = """
INSERT INTO cards (title, body, status, profile, priority, labels, parent_id, source, key,
                   not_before, repo, base, attempts, max_attempts, timeout,
                   created_at, updated_at, model)
VALUES (:title, :body, :status, :profile, :priority, :labels, :parent_id, :source, :key,
        :not_before, :repo, :base, 0, :max_attempts, :timeout, :now, :now, :model)
RETURNING id
"""

CARD_BY_ID = f"SELECT {CARD_COLUMNS} FROM cards WHERE id = :id"
CARD_ID_BY_KEY = "SELECT id FROM cards WHERE key = :key"
CARD_STATUS = "SELECT status FROM cards WHERE id = :id"

MOVE_CARD = "UPDATE cards SET status = :to, updated_at = :now WHERE id = :id AND status = :from"

# A human re-opening a card (retry, review sent back) gives it a fresh set of attempts.
REOPEN_CARD = """
UPDATE cards SET status = :to, attempts = 0, not_before = NULL, updated_at = :now
WHERE id = :id AND status = :from
"""

CANCEL_CARD = """
UPDATE cards SET status = 'cancelled', run_id = NULL, updated_at = :now
WHERE id = :id AND status = :from
"""

# -- dependencies --------------------------------------------------------------------

INSERT_DEPENDENCY = """
INSERT INTO dependencies (card_id, depends_on) VALUES (:card_id, :depends_on)
ON CONFLICT DO NOTHING
"""
DELETE_DEPENDENCY = "DELETE FROM dependencies WHERE card_id = :card_id AND depends_on = :depends_on"
DEPENDS_ON = "SELECT depends_on FROM dependencies WHERE card_id = :id ORDER BY depends_on"
DEPENDENTS = "SELECT card_id FROM dependencies WHERE depends_on = :id ORDER BY card_id"
DEPENDS_ON_ANY = "SELECT card_id, depends_on FROM dependencies WHERE card_id IN ({ids})"

BLOCKERS = """
SELECT d.depends_on FROM dependencies d JOIN cards c ON c.id = d.depends_on
WHERE d.card_id = :id AND c.status <> 'done'
ORDER BY d.depends_on
"""

# A waiting card may become ready when its dependencies are done and, for a goal that
# handed its work to child cards, every child is finished (done, failed or cancelled).
_UNBLOCKED = """
NOT EXISTS (SELECT 1 FROM dependencies d JOIN cards c ON c.id = d.depends_on
            WHERE d.card_id = cards.id AND c.status <> 'done')
AND NOT EXISTS (SELECT 1 FROM goals g JOIN cards c ON c.parent_id = g.card_id
                WHERE g.card_id = cards.id
                  AND c.status NOT IN ('done', 'failed', 'cancelled'))
"""

# Incremental promotion: only the dependents of the card that just finished are looked
# at (through ix_dependencies_depends_on), never the whole waiting backlog.
PROMOTE_DEPENDENTS = f"""
UPDATE cards SET status = 'ready', updated_at = :now
WHERE id IN (SELECT card_id FROM dependencies WHERE depends_on = :id)
  AND status = 'waiting' AND {_UNBLOCKED}
RETURNING id
"""

PROMOTE_CARD = f"""
UPDATE cards SET status = 'ready', updated_at = :now
WHERE id = :id AND status = 'waiting' AND {_UNBLOCKED}
RETURNING id
"""

# -- events --------------------------------------------------------------------------

INSERT_EVENT = """
INSERT INTO events (card_id, run_id, at, kind, actor, data)
VALUES (:card_id, :run_id, :at, :kind, :actor, :data)
"""
EVENTS_OF = "SELECT at, kind, actor, data, run_id FROM events WHERE card_id = :id ORDER BY id"
EVENTS_AFTER = """
SELECT at, kind, actor, data, run_id, id, card_id FROM events
WHERE id > :cursor ORDER BY id LIMIT :limit
"""
LAST_EVENT_ID = "SELECT COALESCE(max(id), 0) FROM events"

#: What each card paused on a human asked for: its current run's last `needs_input` event.
PENDING_REQUESTS = """
SELECT c.id, e.data FROM cards c JOIN events e ON e.id = (
    SELECT max(id) FROM events
    WHERE card_id = c.id AND run_id = c.run_id AND kind = 'needs_input'
)
WHERE c.status = 'needs_input'
"""
RUN_EVENTS = """
SELECT at, kind, actor, data, run_id FROM events
WHERE run_id = :run_id AND kind IN ({kinds}) ORDER BY id
"""

# -- runs: claim, lease, finish ------------------------------------------------------

# SQLite's claim: pick the best claimable card (priority, then age) straight off the
# partial index and open its run. The write lock taken by BEGIN IMMEDIATE makes the
# following conditional UPDATE of the card certain to apply (its row count is checked
# all the same). PostgreSQL's claim is `PG_CLAIM`, one statement.
CLAIM_RUN = """
INSERT INTO runs (card_id, attempt, worker, host, pid, started_at, heartbeat_at,
                  lease_expires_at, outcome)
SELECT id, attempts + 1, :worker, :host, :pid, :now, :now, :lease_expires_at, 'running'
FROM cards
WHERE status = 'ready' AND (not_before IS NULL OR not_before <= :now){profile_filter}
ORDER BY priority DESC, id
LIMIT 1
RETURNING id, card_id, attempt
"""
CLAIM_PROFILE_FILTER = " AND profile NOT IN ({names})"

CLAIM_CARD = """
UPDATE cards SET status = 'running', attempts = :attempt, run_id = :run_id, updated_at = :now
WHERE id = :card_id AND status = 'ready'
"""

HEARTBEAT = """
UPDATE runs SET heartbeat_at = :now, lease_expires_at = :lease_expires_at
WHERE id = :run_id AND outcome = 'running'
"""

# A run is live only while it is the card's current run: this is the fencing check.
LIVE_RUN = """
SELECT r.card_id, r.attempt, c.status, c.attempts, c.max_attempts
FROM runs r JOIN cards c ON c.id = r.card_id AND c.run_id = r.id
WHERE r.id = :run_id AND r.outcome = 'running'
"""

FINISH_CARD = """
UPDATE cards SET status = :to, result = COALESCE(:result, result), run_id = NULL,
                 not_before = COALESCE(:not_before, not_before), updated_at = :now
WHERE id = :card_id AND run_id = :run_id AND status = :from
"""

SET_RUN_CARD_STATUS = """
UPDATE cards SET status = :to, updated_at = :now
WHERE id = :card_id AND run_id = :run_id AND status = :from
"""

END_RUN = """
UPDATE runs SET outcome = :outcome, ended_at = :now, exit_code = :exit_code, error = :error,
                tokens_in = COALESCE(:tokens_in, tokens_in),
                tokens_out = COALESCE(:tokens_out, tokens_out),
                cost_usd = COALESCE(:cost_usd, cost_usd)
WHERE id = :run_id AND outcome = 'running'
"""

CURRENT_RUN = "SELECT run_id FROM cards WHERE id = :id"
RUN_LEASE = "SELECT lease_expires_at FROM runs WHERE id = :run_id"

# -- the worker's own writes (fenced: only while its run is live) --------------------

START_RUN = """
UPDATE runs SET pid = :pid, host = :host, heartbeat_at = :now,
                lease_expires_at = :lease_expires_at
WHERE id = :run_id AND outcome = 'running'
"""
SET_RUNNER = "UPDATE runs SET runner_pid = :runner_pid WHERE id = :run_id AND outcome = 'running'"
SET_WORKSPACE = """
UPDATE cards SET branch = :branch, worktree = :worktree, updated_at = :now
WHERE id = :card_id AND run_id = :run_id
"""
CLEAR_WORKTREE = "UPDATE cards SET worktree = NULL, updated_at = :now WHERE id = :id"

# A release (the dispatcher stopping) gives the attempt back: it was not the card's fault.
RELEASE_CARD = """
UPDATE cards SET status = 'ready', attempts = attempts - 1, run_id = NULL, updated_at = :now
WHERE id = :card_id AND run_id = :run_id AND status = :from
"""

# -- what the dispatcher watches -----------------------------------------------------

# Every dispatcher wake reads this: the partial index of live runs, then a sort of those
# few (`+r.id` keeps SQLite from walking the whole runs table in id order instead).
LAST_RUN_ID = "SELECT coalesce(max(id), 0) FROM runs"

LIVE_RUNS = f"""
SELECT {", ".join("r." + c.strip() for c in RUN_COLUMNS.split(","))}, c.status, c.profile, c.title
FROM runs r JOIN cards c ON c.id = r.card_id
WHERE r.outcome = 'running'
ORDER BY +r.id
"""
RUN_BY_ID = f"SELECT {RUN_COLUMNS} FROM runs WHERE id = :run_id"
NEXT_START = "SELECT min(not_before) FROM cards WHERE status = 'ready' AND not_before > :now"
NEXT_EXPIRY = "SELECT min(lease_expires_at) FROM runs WHERE outcome = 'running'"
# Anything ready, running or paused? A running or paused card always holds a live run,
# so both halves read a partial index, never the finished history.
ACTIVE_CARD = """
SELECT EXISTS (SELECT 1 FROM cards WHERE status = 'ready')
    OR EXISTS (SELECT 1 FROM runs WHERE outcome = 'running')
"""
FINISHED_WITH_WORKSPACE = f"""
SELECT {CARD_COLUMNS} FROM cards
WHERE status IN ('done', 'failed', 'cancelled') AND worktree IS NOT NULL
ORDER BY id
"""
WORKTREES = "SELECT id, repo, worktree, status FROM cards WHERE worktree IS NOT NULL"

REGISTER_DISPATCHER = """
INSERT INTO dispatchers (id, host, pid, concurrency, started_at, heartbeat_at, lease)
VALUES (:id, :host, :pid, :concurrency, :now, :now, :lease)
"""
# `dispatcher status`: the running ones (alive or not: the caller judges) and those
# stopped within the window.
REGISTRY = """
SELECT id, host, pid, concurrency, started_at, heartbeat_at, stopped_at, lease,
       stop_requested_at
FROM dispatchers
WHERE stopped_at IS NULL OR stopped_at > :since
ORDER BY started_at
"""
REQUEST_STOP = """
UPDATE dispatchers SET stop_requested_at = :now
WHERE id = :id AND stopped_at IS NULL AND stop_requested_at IS NULL
"""
STOP_REQUESTED = "SELECT stop_requested_at IS NOT NULL FROM dispatchers WHERE id = :id"
# How a run ended, for the dispatcher's one line: the run, its card, and for a planner
# turn the turn's `planned` event and how many of the goal's cards are unfinished.
RUN_END = f"""
SELECT {", ".join("r." + c.strip() for c in RUN_COLUMNS.split(","))},
       c.status, c.not_before,
       (SELECT e.data FROM events e
        WHERE e.card_id = c.id AND e.run_id = r.id AND e.kind = 'planned'
        ORDER BY e.id DESC LIMIT 1) AS planned,
       (SELECT count(*) FROM cards k
        WHERE k.parent_id = c.id AND k.status NOT IN ('done', 'failed', 'cancelled'))
           AS unfinished
FROM runs r JOIN cards c ON c.id = r.card_id
WHERE r.id = :run_id
"""
# How a human last answered a run's request (through the card's index of events).
LAST_ANSWER = """
SELECT kind, data FROM events
WHERE card_id = :card_id AND run_id = :run_id AND kind IN ('approved', 'rejected', 'answered')
ORDER BY id DESC LIMIT 1
"""
# What an `--until-idle` dispatcher waits for when nothing can run now: the next card
# scheduled for later (a start time, or a retry's backoff), through ix_cards_scheduled.
NEXT_SCHEDULED = """
SELECT id, title, not_before, attempts FROM cards
WHERE status = 'ready' AND not_before IS NOT NULL AND not_before > :now
ORDER BY not_before, id LIMIT 1
"""
SCHEDULED_COUNT = """
SELECT count(*) FROM cards
WHERE status = 'ready' AND not_before IS NOT NULL AND not_before > :now
"""
DISPATCHER_BEAT = "UPDATE dispatchers SET heartbeat_at = :now WHERE id = :id"
DISPATCHER_STOPPED = "UPDATE dispatchers SET stopped_at = :now, heartbeat_at = :now WHERE id = :id"
DISPATCHERS = """
SELECT id, host, pid, concurrency, started_at, heartbeat_at, stopped_at FROM dispatchers
WHERE stopped_at IS NULL OR stopped_at > :since
ORDER BY started_at
"""
EXPIRED_RUNS = """
SELECT id FROM runs WHERE outcome = 'running' AND lease_expires_at < :now ORDER BY id
"""
RUNS_OF = f"SELECT {RUN_COLUMNS} FROM runs WHERE card_id = :id ORDER BY id"
RUNNING_BY_PROFILE = """
SELECT c.profile, count(*) FROM runs r JOIN cards c ON c.id = r.card_id
WHERE r.outcome = 'running' GROUP BY c.profile
"""

# -- listing and statistics ----------------------------------------------------------

LIST_CARDS = f"SELECT {CARD_COLUMNS} FROM cards WHERE {{where}} ORDER BY id"
LIST_EDGES = """
SELECT d.card_id, d.depends_on, c.status
FROM dependencies d JOIN cards c ON c.id = d.depends_on
WHERE d.card_id IN (SELECT id FROM cards WHERE {where})
   OR d.depends_on IN (SELECT id FROM cards WHERE {where})
"""
EDIT_CARD = """
UPDATE cards SET title = :title, body = :body, profile = :profile, priority = :priority,
                 labels = :labels, model = :model, updated_at = :now
WHERE id = :id AND status = :from
"""
CARD_ARCHIVED = "SELECT archived_at FROM cards WHERE id = :id"
ARCHIVE_CARD = """
UPDATE cards SET archived_at = :archived_at, updated_at = :now
WHERE id = :id AND status = :from
"""

WHERE_ALL = "archived_at IS NULL"
WHERE_RECENT = (
    "archived_at IS NULL AND NOT (status IN ('done', 'cancelled') AND updated_at < :cutoff)"
)
WHERE_ARCHIVED = "archived_at IS NOT NULL"
WHERE_STATUS = "status IN ({names})"
WHERE_PROFILE = "profile = :profile"
WHERE_PARENT = "parent_id = :parent_id"
WHERE_SOURCE = "source = :source"
WHERE_LABEL = "labels LIKE :label_pattern ESCAPE '\\'"

COUNT_BY_STATUS_PROFILE = "SELECT status, profile, count(*) FROM cards GROUP BY status, profile"
# Only cards claimable now (a card scheduled for later, or backing off before a retry, is
# not waiting for a worker), aged from when they became claimable. The database's clock:
# the call passes no time (SQLite's strftime gives milliseconds; stored times sort with it).
OLDEST_READY = """
SELECT min(CASE WHEN not_before > updated_at THEN not_before ELSE updated_at END) FROM cards
WHERE status = 'ready'
  AND (not_before IS NULL OR not_before <= :now)
"""
READY_PROFILES = "SELECT DISTINCT profile FROM cards WHERE status = 'ready'"
UNFINISHED_PROFILES = """
SELECT DISTINCT profile FROM cards WHERE status IN ('ready', 'waiting', 'running', 'needs_input')
"""
RUN_TOTALS = """
SELECT c.profile, r.outcome, count(*), sum(r.tokens_in), sum(r.tokens_out), sum(r.cost_usd)
FROM runs r JOIN cards c ON c.id = r.card_id
GROUP BY c.profile, r.outcome
"""


def placeholders(prefix: str, count: int) -> str:
    """`:p0, :p1, ...` for an IN list of `count` named parameters."""
    return ", ".join(f":{prefix}{i}" for i in range(count))


def bind_list(prefix: str, values: Sequence[object]) -> dict[str, object]:
    """The parameters that go with `placeholders(prefix, len(values))`."""
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


# -- goals -------------------------------------------------------------------------------

INSERT_GOAL = "INSERT INTO goals (card_id, budget) VALUES (:card_id, :budget)"
GOAL_BUDGET = "SELECT budget FROM goals WHERE card_id = :id"
# A card just finished: its goal (if it has one) is ready again for its judge once
# nothing else blocks it, in one statement.
PROMOTE_PARENT_GOAL = f"""
UPDATE cards SET status = 'ready', updated_at = :now
WHERE id = (SELECT parent_id FROM cards WHERE id = :child)
  AND status = 'waiting' AND id IN (SELECT card_id FROM goals) AND {_UNBLOCKED}
RETURNING id
"""

# The planner turn is over: the goal waits for its children with a fresh set of attempts.
GOAL_TURNS = "SELECT count(*) FROM events WHERE card_id = :id AND kind = 'planned'"
PARK_GOAL = """
UPDATE cards SET status = 'waiting', attempts = 0, run_id = NULL, updated_at = :now
WHERE id = :card_id AND run_id = :run_id AND status = 'running'
"""

# -- cron --------------------------------------------------------------------------------

JOB_COLUMNS = (
    "id, schedule, tz, title, body, profile, repo, base, deliver, overlap, paused, "
    "created_at, next_fire_at, last_fire_at, last_card_id"
)
INSERT_JOB = """
INSERT INTO cron_jobs (schedule, tz, title, body, profile, repo, base, deliver, overlap,
                       paused, created_at, next_fire_at)
VALUES (:schedule, :tz, :title, :body, :profile, :repo, :base, :deliver, :overlap,
        FALSE, :now, :next_fire_at)
RETURNING id
"""
JOB_BY_ID = f"SELECT {JOB_COLUMNS} FROM cron_jobs WHERE id = :id"
ALL_JOBS = f"SELECT {JOB_COLUMNS} FROM cron_jobs ORDER BY id"
# Read on every dispatcher wake: only the jobs due now (times are fixed-width ISO text).
DUE_JOBS = f"""
SELECT {JOB_COLUMNS} FROM cron_jobs
WHERE NOT paused AND next_fire_at IS NOT NULL AND next_fire_at <= :now ORDER BY id
"""
DELETE_JOB_EVENTS = "DELETE FROM cron_events WHERE job_id = :id"
DELETE_JOB = "DELETE FROM cron_jobs WHERE id = :id"
PAUSE_JOB = """
UPDATE cron_jobs SET paused = :paused, next_fire_at = :next_fire_at WHERE id = :id
"""
# A fire is claimed by moving the job's next fire time on, from exactly what the firing
# dispatcher read: two dispatchers cannot both fire the same time.
ADVANCE_JOB = """
UPDATE cron_jobs SET next_fire_at = :next_fire_at, last_fire_at = :fire_at
WHERE id = :id AND NOT paused AND next_fire_at = :expected
"""
SET_LAST_CARD = "UPDATE cron_jobs SET last_card_id = :card_id WHERE id = :id"
INSERT_JOB_EVENT = """
INSERT INTO cron_events (job_id, at, kind, data) VALUES (:job_id, :at, :kind, :data)
"""
JOB_EVENTS = "SELECT at, kind, data FROM cron_events WHERE job_id = :id ORDER BY id"
NEXT_CRON = "SELECT min(next_fire_at) FROM cron_jobs WHERE NOT paused"

# -- the chat gateway -----------------------------------------------------------------------

SUBSCRIPTION_COLUMNS = (
    "id, platform, chat, card_id, mode, cursor, status_message, failures, last_error, "
    "retry_at, closed_at"
)
JOB_DELIVER = "SELECT deliver FROM cron_jobs WHERE id = :id"
#: A new subscription starts just before the card's first event: its whole story is told.
CARD_FIRST_EVENT = "SELECT COALESCE(min(id), 1) - 1 FROM events WHERE card_id = :card_id"
SUBSCRIBE = """
INSERT INTO subscriptions (platform, chat, card_id, mode, cursor, failures, created_at)
VALUES (:platform, :chat, :card_id, :mode, :cursor, 0, :now)
ON CONFLICT (platform, chat, card_id) DO NOTHING
"""
SUBSCRIPTIONS_DUE = f"""
SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions
WHERE platform = :platform AND closed_at IS NULL AND (retry_at IS NULL OR retry_at <= :now)
ORDER BY id
"""
SUBSCRIPTIONS_ALL = f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY id"
SUBSCRIPTIONS_OF = f"""
SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE platform = :platform ORDER BY id
"""
SUBSCRIPTION_EVENTS = """
SELECT at, kind, actor, data, run_id, id, card_id FROM events
WHERE id > :cursor AND (
    card_id = :card_id OR card_id IN (SELECT id FROM cards WHERE parent_id = :card_id)
)
ORDER BY id LIMIT :limit
"""
SUBSCRIPTION_PLATFORM = "SELECT platform FROM subscriptions WHERE id = :id"
# `{larger}` is the engine's larger-of-two function (see DialectSql).
_DELIVERED = """
UPDATE subscriptions SET cursor = {larger}(cursor, :cursor), failures = 0, last_error = NULL,
    retry_at = NULL, status_message = COALESCE(:status_message, status_message),
    closed_at = COALESCE(:closed_at, closed_at)
WHERE id = :id
"""
DELIVERY_FAILED = """
UPDATE subscriptions SET failures = failures + 1, last_error = :error, retry_at = :retry_at
WHERE id = :id
"""
REMEMBER_MESSAGE = """
INSERT INTO chat_messages (platform, chat, message, card_id, run_id, purpose, created_at)
VALUES (:platform, :chat, :message, :card_id, :run_id, :purpose, :now)
ON CONFLICT (platform, chat, message) DO NOTHING
"""
SENT_MESSAGE = """
SELECT card_id, run_id, purpose FROM chat_messages
WHERE platform = :platform AND chat = :chat AND message = :message
"""
# `{same}` compares with NULL as a value: `IS` (SQLite), `IS NOT DISTINCT FROM` (PostgreSQL).
_REQUEST_MESSAGE = """
SELECT message FROM chat_messages
WHERE platform = :platform AND chat = :chat AND card_id = :card_id AND run_id {same} :run_id
  AND purpose IN ('question', 'approval')
ORDER BY created_at DESC LIMIT 1
"""
TELL_STRANGER = """
INSERT INTO gateway_strangers (platform, "user", told_at) VALUES (:platform, :user, :now)
ON CONFLICT (platform, "user") DO NOTHING
"""
GATEWAY_BEAT = """
INSERT INTO gateway_state (platform, host, pid, connected, heartbeat_at, last_message_at,
                           last_error)
VALUES (:platform, :host, :pid, :connected, :now, :last_message_at, :error)
ON CONFLICT (platform) DO UPDATE SET host = excluded.host, pid = excluded.pid,
    connected = excluded.connected, heartbeat_at = excluded.heartbeat_at,
    last_message_at = COALESCE(excluded.last_message_at, gateway_state.last_message_at),
    last_error = excluded.last_error
"""
GATEWAY_STATES = """
SELECT g.platform, g.host, g.pid, g.connected, g.heartbeat_at, g.last_message_at,
       g.last_error,
       (SELECT count(*) FROM subscriptions s WHERE s.platform = g.platform
            AND s.closed_at IS NULL
            AND EXISTS (SELECT 1 FROM events e WHERE e.card_id = s.card_id AND e.id > s.cursor))
           AS undelivered,
       (SELECT count(*) FROM subscriptions s WHERE s.platform = g.platform AND s.failures > 0)
           AS failing
FROM gateway_state g ORDER BY g.platform
"""

# -- what the engines spell differently ---------------------------------------------------

# PostgreSQL's claim, in one statement: lock the best claimable card, skipping any another
# claim holds (no waiting, no double claim), open its run, and mark the card running with
# it. The last column counts the cards the UPDATE marked: the store checks it is 1.
PG_CLAIM = """
WITH picked AS (
    SELECT id, attempts FROM cards
    WHERE status = 'ready' AND (not_before IS NULL OR not_before <= :now){profile_filter}
    ORDER BY priority DESC, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), run AS (
    INSERT INTO runs (card_id, attempt, worker, host, pid, started_at, heartbeat_at,
                      lease_expires_at, outcome)
    SELECT id, attempts + 1, CAST(:worker AS TEXT), CAST(:host AS TEXT),
           CAST(:pid AS BIGINT), CAST(:now AS TEXT), CAST(:now AS TEXT),
           CAST(:lease_expires_at AS TEXT), 'running'
    FROM picked
    RETURNING id, card_id, attempt
), marked AS (
    UPDATE cards SET status = 'running', attempts = run.attempt, run_id = run.id,
                     updated_at = :now
    FROM run WHERE cards.id = run.card_id AND cards.status = 'ready'
    RETURNING cards.id
)
SELECT run.id, run.card_id, run.attempt, (SELECT count(*) FROM marked) AS marked FROM run
"""

# Row locks (PostgreSQL): what a write transaction reads to decide its conditional UPDATE
# is locked first, so no other transaction can change it in between. The rules that keep
# promotion right with writers side by side:
# - whoever finishes a card holds its row, then locks its waiting dependents and its
#   parent goal before promoting them (each promotion statement then sees every commit
#   made before the lock was granted);
# - whoever makes a card wait (create, retry, a move, a parked goal) holds its row and
#   shares the rows of its dependencies before reading their statuses;
# so of two such transactions on one edge, the second sees what the first committed.
_LOCK_CARD = CARD_STATUS + " FOR UPDATE"
_SHARE_CARD = CARD_STATUS + " FOR SHARE"
_PAIR = "SELECT id, status FROM cards WHERE id IN (:a, :b) ORDER BY id"
_SHARE_DEPENDENCIES = """
SELECT id FROM cards WHERE id IN (SELECT depends_on FROM dependencies WHERE card_id = :id)
ORDER BY id FOR SHARE
"""
_LOCK_DEPENDENTS = """
SELECT id FROM cards
WHERE id IN (SELECT card_id FROM dependencies WHERE depends_on = :id) AND status = 'waiting'
ORDER BY id FOR UPDATE
"""
_LOCK_PARENT = """
SELECT id FROM cards WHERE id = (SELECT parent_id FROM cards WHERE id = :child) FOR UPDATE
"""


class DialectSql(Struct, frozen=True):
    """The statements each engine spells its own way. A lock that SQLite does not need
    (BEGIN IMMEDIATE already serializes writers) is None there."""

    lock_card: str  # a card's status, its row locked until the transaction ends
    share_card: str  # a card's status, its row kept from changing until then
    lock_pair: str  # two cards' ids and statuses, locked in id order
    live_run: str  # the fencing check, the card's row locked
    run_lease: str  # a run's lease expiry, its row locked
    share_dependencies: str | None
    lock_dependents: str | None
    lock_parent: str | None
    lock_graph: str | None  # one dependency graph for cycle checks
    delivered: str
    request_message: str


SQLITE = DialectSql(
    lock_card=CARD_STATUS,
    share_card=CARD_STATUS,
    lock_pair=_PAIR,
    live_run=LIVE_RUN,
    run_lease=RUN_LEASE,
    share_dependencies=None,
    lock_dependents=None,
    lock_parent=None,
    lock_graph=None,
    delivered=_DELIVERED.format(larger="max"),
    request_message=_REQUEST_MESSAGE.format(same="IS"),
)
POSTGRESQL = DialectSql(
    lock_card=_LOCK_CARD,
    share_card=_SHARE_CARD,
    lock_pair=_PAIR + " FOR UPDATE",
    live_run=LIVE_RUN.rstrip() + " FOR UPDATE OF c",
    run_lease=RUN_LEASE + " FOR UPDATE",
    share_dependencies=_SHARE_DEPENDENCIES,
    lock_dependents=_LOCK_DEPENDENTS,
    lock_parent=_LOCK_PARENT,
    lock_graph="SELECT pg_advisory_xact_lock(1751478893, 2)",  # board.postgres.GRAPH_LOCK
    delivered=_DELIVERED.format(larger="GREATEST"),
    request_message=_REQUEST_MESSAGE.format(same="IS NOT DISTINCT FROM"),
)
DIALECTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL}
