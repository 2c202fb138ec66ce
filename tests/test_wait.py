"""poll(): returns the first value, keeps the last reason for the timeout error, stops on a raise."""

import pytest

from stackctl.errors import StackctlError
from stackctl.wait import poll


def test_returns_the_first_value_even_a_falsy_one():
    answers = iter([(None, "starting"), ("", "")])
    assert poll(lambda: next(answers), 5, lambda last: StackctlError(last), interval=0) == ""


def test_times_out_with_the_last_reason():
    with pytest.raises(StackctlError, match="still Degraded"):
        poll(lambda: (None, "still Degraded"), 0, lambda last: StackctlError(last), interval=0)


def test_an_attempt_can_stop_at_once():
    calls = []

    def attempt():
        calls.append(1)
        raise StackctlError("wrong credentials")

    with pytest.raises(StackctlError, match="wrong credentials"):
        poll(attempt, 60, lambda last: StackctlError(last), interval=0)
    assert len(calls) == 1
