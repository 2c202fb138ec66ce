"""A stage of the archive writer on a thread of its own, fed through a bounded queue.

Reading and hashing members, compressing, and encrypting plus writing run at once this way:
hashlib, zstd and cryptography release the GIL on large buffers. At most `depth` pieces
wait in front of a stage, so memory stays flat whatever the archive's size, and a stage
that fails stops the ones in front of it: their next write raises its error.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

DEPTH = 4
_POLL = 0.1  # seconds between looks at whether the other side stopped
_CLOSE = object()


class StageStopped(Exception):
    """The stage was aborted: nothing more is written."""


class Stage:
    """A writable stream: each piece written is handed to `handle` on the stage's thread;
    `close()` waits for every piece, runs `finish` there, and raises the stage's error."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], Any],
        finish: Callable[[], Any] | None = None,
        depth: int = DEPTH,
    ) -> None:
        self._handle, self._finish = handle, finish
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def write(self, data: Any) -> int:
        """The piece must not change after this: it is queued, not copied."""
        self._put(data)
        return len(data)

    def flush(self) -> None:  # a stream's flush: the pieces are written in order anyway
        pass

    def close(self) -> None:
        self._put(_CLOSE)
        self._thread.join()
        self._raise()

    def abort(self) -> None:
        """Stop now, dropping what waits; the thread ends within a poll interval."""
        self._stopped.set()
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
        if self._stopped.is_set():
            raise StageStopped(self._thread.name)

    def _put(self, item: Any) -> None:
        while True:
            self._raise()
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    item = self._queue.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if item is _CLOSE:
                    if self._finish is not None:
                        self._finish()
                    return
                self._handle(item)
        except BaseException as exc:  # handed to the writer's thread by its next write
            self._error = exc
            self._stopped.set()
