"""The web app bounds its heap: the machines it is built and served on run glibc, whose mallopt takes the bounds."""

from __future__ import annotations

from interviewer.web.heap import bound_heap


def test_the_heap_is_bounded() -> None:
    assert bound_heap() is True
