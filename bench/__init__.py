"""hermes's benchmarks: `python -m bench` runs them and prints one table, every figure
next to a reference measured in the same run on the same disk (or the setting that bounds
it), and their ratio. See docs/performance.md.

Sections: `board` (the store against raw sqlite3), `dispatch` (the dispatcher against
plain process spawns), `agent` (an agent card against a cold litellm import) and
`scaling` (the hot operations on boards of growing size).
"""
