"""Sharing the event loop between concurrent uploads: at most a budget of body bytes per
turn of the loop, so the loop's other work (timers, the stall watchdog, answers, the
caller's own tasks) waits for at most one budget's worth of sending.

Over TLS the loop thread encrypts every byte it sends (asyncio's SSL transport), and a
loopback socket takes a whole chunk at once, so an upload task that has its next chunk
ready never suspends: ten uploads each sending a 256 KiB chunk in one turn held the loop
for about 5 ms of CPU (10-25 ms of wall time on a loaded 2-core machine), the heartbeat's
p99 lag. With a shared budget, the uploads that find the turn's budget spent wait for the
next turn (``asyncio.sleep(0)``: the loop runs its timers and I/O in between) and go in the
order they came. One upload alone sends up to the budget per turn and gives the loop one
turn between budgets: a single big file loses nothing measurable.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["DEFAULT_TURN_BYTES", "LoopShare"]

# Half the default chunk: every chunk of 256 KiB takes a turn of its own (about 0.3 ms of
# the loop over TLS 1.3 here: AES-GCM, the copy out of the memory BIO, the send). Probe of
# the c=10 TLS shape, 9 rounds each, interleaved: loop lag p99 median 2.6 ms at 128 KiB,
# 4.5 ms at 256 KiB, 4.7 ms at 512 KiB; a 256 MiB upload's CPU and throughput did not move.
DEFAULT_TURN_BYTES = 128 * 1024


class LoopShare:
    """A budget of bytes per turn of the running loop, shared by the uploads of one run.

    ``await share.turn(n)`` before handing ``n`` bytes to the connection. It returns at
    once while this turn's budget lasts and nobody is waiting (a chunk larger than the
    budget takes a turn of its own); otherwise the upload queues, and at the start of each
    later turn the queue's head is let go, in order, up to one budget's worth: an upload
    that just sent queues behind the ones already waiting, so none starves.
    """

    def __init__(self, turn_bytes: int = DEFAULT_TURN_BYTES) -> None:
        if turn_bytes < 1:
            raise ValueError("turn_bytes must be at least 1")
        self.turn_bytes = turn_bytes
        self.used = 0  # bytes let go in the current turn
        self.waits = 0  # how often an upload waited for a later turn (tests, probes)
        self._queue: deque[tuple[asyncio.Future[None], int]] = deque()
        self._tick_pending = False

    async def turn(self, nbytes: int) -> None:
        if not self._queue and (not self.used or self.used + nbytes <= self.turn_bytes):
            self.used += nbytes
            self._tick()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((fut, nbytes))
        self.waits += 1
        self._tick()
        await fut  # counted in its turn's budget when let go; a cancel leaves it done

    def _tick(self) -> None:
        if not self._tick_pending:
            # call_soon from inside a turn runs in the next one
            self._tick_pending = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._tick_pending = False
        self.used = 0
        while self._queue:
            fut, nbytes = self._queue[0]
            if fut.done():  # its upload was cancelled while waiting
                self._queue.popleft()
                continue
            if self.used and self.used + nbytes > self.turn_bytes:
                break
            self._queue.popleft()
            self.used += nbytes
            fut.set_result(None)  # resumes in the next turn, counted in this one
        if self._queue or self.used:
            self._tick()
