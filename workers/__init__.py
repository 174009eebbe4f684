"""Worker processes: one OS process per run.

A worker takes a claimed run, heartbeats on its own, prepares the card's workspace,
runs the profile's runner and finishes the card itself with its run id as the fencing
token (`workers.worker`). Workers are forked from a warm template process
(`workers.template`) so that starting one costs milliseconds.
"""
