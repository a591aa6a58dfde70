"""Failures of one organisation's run: which kernel failures are retried, and how each is worded."""

from __future__ import annotations

import time

import pytest

from analysis.pipeline import failures

# -- stand-ins: the classifier and the wording look only at the exception's type name ------


class ZMQError(Exception):
    """Same name as pyzmq's error."""


class PapermillExecutionError(Exception):
    """Same name as papermill's notebook failure."""

    def __init__(self, evalue: str):
        super().__init__(evalue)
        self.ename, self.evalue, self.exec_count = "ValueError", evalue, 3


class IngestError(Exception):
    """Same name as analysis.ingest's error."""

    def __init__(self, *problems: str):
        super().__init__(f"{len(problems)} problems in x.xlsx")
        self.problems = list(problems)


# -- the classifier --------------------------------------------------------------------------


def _kernel_start_frame():
    def start_new_kernel():
        raise RuntimeError("something odd")

    try:
        start_new_kernel()
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ZMQError("Address already in use (addr='tcp://127.0.0.1:54321')"), True),
        (RuntimeError("Kernel didn't respond in 60 seconds"), True),
        (RuntimeError("Kernel died before replying to kernel_info"), True),
        (TimeoutError("Timeout waiting for kernel_info reply"), True),
        (_kernel_start_frame(), True),
        (PapermillExecutionError("ZMQError: Address already in use"), False),
        (ValueError("bad value in cell"), False),
        (RuntimeError("report run did not produce tables.xlsx"), False),
    ],
)
def test_kernel_start_classifier(exc, expected):
    assert failures.is_kernel_start_failure(exc) is expected


def test_classifier_follows_the_cause_chain():
    try:
        try:
            raise ZMQError("Address already in use")
        except ZMQError as inner:
            raise RuntimeError("papermill could not start the kernel") from inner
    except RuntimeError as outer:
        assert failures.is_kernel_start_failure(outer)


# -- the retry policy ------------------------------------------------------------------------


class _Flaky:
    """Raises ``exc`` on the first ``n_fail`` calls, then returns "done"."""

    def __init__(self, n_fail: int, exc: Exception):
        self.n_fail, self.exc, self.calls = n_fail, exc, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.n_fail:
            raise self.exc
        return "done"


@pytest.fixture
def pauses(monkeypatch):
    """The pauses tenacity takes (it sleeps with time.sleep), recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_kernel_failures_are_retried_with_the_backoff(pauses):
    policy = failures.kernel_retrying(3, (1.0, 3.0))
    flaky = _Flaky(2, RuntimeError("Kernel didn't respond in 60 seconds"))
    assert policy(flaky) == "done"
    assert flaky.calls == 3
    assert policy.statistics["attempt_number"] - 1 == 2
    assert pauses == [1.0, 3.0]


def test_retries_stop_and_the_last_error_is_raised(pauses):
    policy = failures.kernel_retrying(3, (1.0, 3.0))
    flaky = _Flaky(10, ZMQError("Address already in use"))
    with pytest.raises(ZMQError):
        policy(flaky)
    assert flaky.calls == 4  # the first try and three retries
    assert pauses == [1.0, 3.0, 3.0]  # the last pause repeats


def test_other_failures_are_not_retried(pauses):
    policy = failures.kernel_retrying()
    flaky = _Flaky(1, PapermillExecutionError("Address already in use (from user code)"))
    with pytest.raises(PapermillExecutionError):
        policy(flaky)
    assert flaky.calls == 1 and pauses == []
    assert policy.statistics["attempt_number"] == 1


# -- wording ----------------------------------------------------------------------------------


def test_describe_failure():
    assert failures.describe_failure(IngestError("row 2: no header", "row 3: bad code")) == (
        "invalid workbook: row 2: no header (+1 more)"
    )
    assert failures.describe_failure(PapermillExecutionError("boom\ntraceback")) == (
        "notebook error in cell 3: ValueError: boom"
    )
    assert failures.describe_failure(ZMQError("Address already in use")) == (
        "kernel did not start: ZMQError: Address already in use"
    )
    assert failures.describe_failure(KeyError("x")) == "KeyError: 'x'"
    long = failures.describe_failure(ValueError("v" * 500))
    assert len(long) == 160 and long.endswith("…")


def test_describe_failure_leaves_the_workbook_file_name_out():
    from analysis.ingest import IngestError as RealIngestError
    from analysis.ingest import Problem

    problems = [
        Problem("Jane-Doe-cases.xlsx", "cases", 7, "p_rosh_review", "Sufficent", "not allowed"),
        Problem("Jane-Doe-cases.xlsx", None, None, None, None, "the file is empty"),
    ]
    text = failures.describe_failure(RealIngestError(problems))
    assert (
        text
        == "invalid workbook: sheet 'cases', row 7, column p_rosh_review: not allowed (+1 more)"
    )
    assert failures.describe_failure(RealIngestError(problems[1:])) == (
        "invalid workbook: the file is empty"
    )


def test_describe_failure_words_user_and_file_system_errors_for_the_user():
    import errno
    import os

    from analysis.errors import UserError

    assert failures.describe_failure(UserError("another run for a is in progress")) == (
        "another run for a is in progress"
    )
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/d/outputs/.a.lock")
    assert failures.describe_failure(full).startswith(
        "no space left on the disk holding /d/outputs/.a.lock: free some space"
    )
