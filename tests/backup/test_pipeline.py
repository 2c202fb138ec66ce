"""A stage of the archive writer: pieces reach its handler in order on its own thread, at most
`depth` wait in front of it, and a stage that fails stops the writer in front of it."""

from __future__ import annotations

import threading
import time

import pytest

from stackctl.backup.pipeline import Stage, StageStopped


def eventually(check, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def test_pieces_arrive_in_order_and_close_runs_finish_after_the_last():
    seen: list[bytes] = []
    stage = Stage("test-order", seen.append, lambda: seen.append(b"finished"))
    for i in range(50):
        stage.write(b"%d" % i)
    stage.close()
    assert seen == [b"%d" % i for i in range(50)] + [b"finished"]


def test_at_most_depth_pieces_wait_in_front_of_a_busy_stage():
    release = threading.Event()
    stage = Stage("test-bounded", lambda piece: release.wait(), depth=3)
    accepted = []

    def writer() -> None:
        for i in range(10):
            stage.write(b"x")
            accepted.append(i)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    # one piece in the handler, three queued: the fifth write waits
    assert eventually(lambda: len(accepted) == 4)
    time.sleep(0.3)
    assert len(accepted) == 4 and thread.is_alive()
    release.set()
    thread.join(5)
    stage.close()
    assert len(accepted) == 10


def test_a_failing_stage_stops_the_writer_with_its_error():
    def handle(piece: bytes) -> None:
        if piece == b"bad":
            raise OSError(28, "No space left on device")

    stage = Stage("test-failing", handle, depth=2)
    stage.write(b"good")
    stage.write(b"bad")
    with pytest.raises(OSError, match="No space left"):
        for _ in range(100):  # a full queue does not hang the writer: it raises
            stage.write(b"more")
            time.sleep(0.01)
    with pytest.raises(OSError, match="No space left"):
        stage.close()


def test_an_error_in_finish_is_raised_by_close():
    stage = Stage("test-finish", lambda piece: None, lambda: 1 / 0)
    stage.write(b"x")
    with pytest.raises(ZeroDivisionError):
        stage.close()


def test_abort_ends_the_thread_and_refuses_further_writes():
    stuck = threading.Event()
    stage = Stage("test-abort", lambda piece: stuck.wait(0.2), depth=1)
    stage.write(b"a")
    stage.write(b"b")
    stage.abort()
    assert not [t for t in threading.enumerate() if t.name == "test-abort"]
    with pytest.raises(StageStopped):
        stage.write(b"c")
