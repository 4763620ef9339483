"""Brains that grade answers and choose follow-ups; every brain returns the same Grade type.

The Brain protocol, FollowUp and TurnContext live in `interviewer.grading.brain` and are re-exported here.
"""

from __future__ import annotations

from interviewer.grading.brain import Brain, FollowUp, TurnContext

__all__ = ["Brain", "FollowUp", "TurnContext"]
