"""A host process for the crash test: feeds a log of events into a checkpointed stream, findings to SQLite.

    python crash_host.py EVENTS DB EVERY [DIE_AFTER]

It restores its stream from the newest checkpoint in DB (a new stream when there is none), pushes the
events after the position that checkpoint recorded (``stream.meta["pos"]``), checkpoints every EVERY
events, and writes every finding released to an SQLite table upserted by finding id. With DIE_AFTER
it kills itself with SIGKILL after that many pushes in this run (no cleanup, no flush: a crash). At
the end of the log it settles the stream (``result()``) and prints ``done``.
"""

import json
import os
import signal
import sys

import hrguard
from hrguard.checkpoints import SqliteCheckpoints
from hrguard.sinks import SqliteSink

events_path, db, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
die_after = int(sys.argv[4]) if len(sys.argv) > 4 else None
events = [json.loads(line) for line in open(events_path, encoding="utf-8") if line.strip()]
store = SqliteCheckpoints(db)
sink = SqliteSink(db)
stream = hrguard.Stream.restore(store, "host", "sales", "0s", sinks=[sink])
pos = int(stream.meta.get("pos", 0))
pushed = 0
for i in range(pos, len(events)):
    stream.push(events[i])
    pushed += 1
    if (i + 1) % every == 0:
        stream.meta["pos"] = i + 1
        stream.checkpoint(store, "host")
    if die_after is not None and pushed >= die_after:
        os.kill(os.getpid(), signal.SIGKILL)
stream.result()
print("done")
