"""Run by tests/test_prepare.py: ``python prepare_kill.py KILL|TERM N OVERRIDE...`` runs ``task=prepare`` in this
process and sends itself SIGKILL / SIGTERM right after the N-th frame of the run is appended to a chunk, i.e.
in the middle of writing a chunk (run it with prepare.workers=1)."""
import os
import signal
import sys

from motionbench.cli.app import main
from motionbench.prepare import output

SIGNAL, AFTER = getattr(signal, "SIG" + sys.argv[1]), int(sys.argv[2])
_append = output.ChunkOutput.append
_count = [0]


def append(self, frame):
    _append(self, frame)
    _count[0] += 1
    if _count[0] == AFTER:
        os.kill(os.getpid(), SIGNAL)


output.ChunkOutput.append = append
main(sys.argv[3:])
