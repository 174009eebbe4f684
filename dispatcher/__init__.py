"""The long-lived dispatcher loop.

It will wake on every board change, reclaim expired leases, promote, claim cards within
the global and per-profile concurrency limits and spawn one worker process per run; cron
schedules also live here. It never runs card work itself: workers do.
"""
