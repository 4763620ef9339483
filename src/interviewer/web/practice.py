"""How the start page's cards and the History tab's mastery view and trend are drawn (pure functions of `progress`)."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from interviewer.interview.grade_text import escape_markdown
from interviewer.interview.progress import Card, MasteryRow, StartPage, TrendPoint

MASTERY_HEADERS = ["learning objective", "topic", "latest", "best", "attempts", "last practised", "next due", "status"]


def card_markdown(card: Card) -> str:
    """What a card is: title, kind, level, time, number of prompts and summary."""
    facts = [card.subtitle]
    if card.level:
        facts.append(card.level)
    facts.append(f"{'about ' if card.minutes_estimated else ''}{card.minutes} min")
    facts.append(f"{card.prompts} prompts")
    return (
        f"### {escape_markdown(card.title)}\n"
        f"{' · '.join(escape_markdown(f) for f in facts)}\n\n"
        f"{escape_markdown(card.summary)}"
    )


def card_objectives(card: Card) -> str:
    """What a card tests: its learning objectives, folded under their count."""
    items = "".join(f"<li>{html.escape(text)}</li>" for text in card.objectives)
    count = f"{len(card.objectives)} learning objective{'s' if len(card.objectives) != 1 else ''}"
    return f"<details><summary>It tests {count}</summary><ul>{items}</ul></details>"


def card_score(card: Card) -> str:
    """The person's own line on a card: last and best score, or that it is new to them."""
    if card.last is None or card.best is None:
        return "*Not practised yet.*"
    times = "1 session" if card.sessions == 1 else f"{card.sessions} sessions"
    return f"**Last {card.last:.2f}/4 · best {card.best:.2f}/4** · {times}"


def due_markdown(view: StartPage) -> str:
    """The start page's first card: how many questions are due today, or when the next one is."""
    due = len(view.due.prompts)
    if due:
        return (
            f"### Due today: {due} question{'' if due == 1 else 's'}\n"
            "Questions you answered before, back when spaced repetition says you would start to forget them; "
            "the weakest first."
        )
    if view.due.next_due:
        return f"### Due today\nNothing is due today. The next question comes back on {view.due.next_due[:10]}."
    return "### Due today\nNothing yet: each question you finish comes back here when it is due."


def weak_markdown(view: StartPage) -> str:
    """The "Review my weak points" card: the weakest objectives by name, or what to do first."""
    if not view.weakest:
        if view.practised:
            return "### Review my weak points\nNo weak objectives: every objective you answered scored above 2/4."
        return "### Review my weak points\nAnswer a few questions first; your weakest objectives will show here."
    lines = "\n".join(
        f"- {escape_markdown(r.text)} ({escape_markdown(r.topic)}): latest {r.latest:.2f}/4" for r in view.weakest
    )
    return f"### Review my weak points\nYour weakest learning objectives:\n{lines}"


def mastery_table(rows: list[MasteryRow]) -> list[list[Any]]:
    """One row per objective, full names, weakest first; "weak" marks a latest score of 2/4 or less."""
    return [
        [
            r.text,
            r.topic,
            f"{r.latest:.2f}",
            f"{r.best:.2f}",
            r.attempts,
            r.last_at.replace("T", " ")[:16],
            (r.next_due or "")[:10],
            "weak" if r.weak else ("mastered" if r.latest >= 3.5 else "ok"),
        ]
        for r in rows
    ]


def trend_figure(trend: list[TrendPoint]) -> Any:
    """Session scores over dates: a line with a dot per session, the dates written out, 0-4 on the y axis.

    The axis is exactly 0-4 and the dots are drawn over its edges (`clip_on=False`), so a 4/4 or a 0/4 shows whole;
    the constrained layout keeps every label clear of the plot and inside the image. The text is large enough to
    read when a phone shrinks the image to its width. A bare `Figure` draws with no backend of its own (Gradio saves
    it to an image), so none is chosen here.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    figure = Figure(figsize=(5.6, 2.8), layout=ConstrainedLayoutEngine(h_pad=0.08, w_pad=0.08))
    axes = figure.subplots()
    axes.set_ylim(0, 4)
    axes.set_yticks(range(5))
    axes.set_ylabel("session score", fontsize=12)
    axes.tick_params(labelsize=11)
    axes.grid(alpha=0.3)
    if not trend:
        axes.text(0.5, 0.5, "No scored sessions yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])
        return figure
    when = [date2num(datetime.fromisoformat(p.at)) for p in trend]  # type: ignore[no-untyped-call]
    axes.plot(when, [p.score for p in trend], marker="o", linewidth=1.5, clip_on=False, zorder=3)
    if max(when) - min(when) < 1:  # within a day: show the day around it, not years
        axes.set_xlim(min(when) - 0.5, max(when) + 0.5)
    axes.xaxis_date()
    locator = AutoDateLocator(minticks=2, maxticks=6)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_xlabel("date (UTC)", fontsize=12)
    return figure
