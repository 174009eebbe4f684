"""Worker processes: one OS process per run.

A worker will take a claimed run, heartbeat on its own, prepare the card's workspace, run
the profile's runner (`command`, `agent` or `cli`) and finish the card itself with its run
id as the fencing token, so a dead dispatcher loses nothing.
"""
