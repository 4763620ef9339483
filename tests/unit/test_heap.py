"""The web app bounds its heap on glibc, the C library of the machines it is built for."""

from __future__ import annotations

import platform

import pytest

from interviewer.heap import bound_heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's parameters are glibc's")
def test_the_heap_is_bounded_on_glibc() -> None:
    assert bound_heap() is True
