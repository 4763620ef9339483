"""The browser app: a thin Gradio layer over the engine.

Every handler asks the engine and renders what it returns; no interview logic lives here. The page keeps
only the session id (in the URL, `?session=ID`), so a refresh, a closed tab or a server restart resumes
the session from the server-side database. The page's layout and wiring are in `layout`; a grade is
drawn by `grade_text`, as in the terminal and the transcript.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from interviewer import config
from interviewer.errors import InterviewerError, StorageError
from interviewer.interview.access import Caller
from interviewer.interview.choices import parse_choice
from interviewer.interview.engine import Engine
from interviewer.interview.grade_text import escape_markdown, render_grade
from interviewer.interview.progress import History, cards
from interviewer.interview.records import Message, Overview, Snapshot
from interviewer.interview.report import to_markdown
from interviewer.speech.delivery import Delivery
from interviewer.speech.recognition import Transcription
from interviewer.storage import exports
from interviewer.storage.session_index import SessionRow
from interviewer.web.again import AgainHandlers, note
from interviewer.web.layout import build_page
from interviewer.web.practice import card_score, due_markdown, mastery_table, trend_figure, weak_markdown

CSS = """
.grade-panel { font-size: 0.92rem; }
.notice { color: var(--error-text-color, #b91c1c); }
footer { display: none !important; }
/* Start page: cards that wrap to one column on a phone. */
#cards { flex-wrap: wrap; gap: 12px; }
#cards > .card { flex: 1 1 280px; }
.card { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); padding: 4px 12px 12px; }
.card h3 { margin-top: 4px; }
/* Table headers break between words only ("score", not "scor e"); a History table scrolls sideways instead. */
.review-md th, #mastery th { word-break: keep-all !important; overflow-wrap: normal !important; white-space: nowrap; }
#sessions th .header, #mastery th .header { word-break: keep-all !important; overflow-wrap: normal !important; }
/* The trend's label sits above its image, not over the plot. */
#trend > label[data-testid="block-label"] { position: static; margin: var(--block-label-margin); margin-bottom: 0; }
/* "Delete..." is a button of the usual height, level with the bottom of its list. */
#forget-row { align-items: flex-end; }
/* WCAG 2 AA contrast (4.5:1) in light mode (dark mode passes as it is): the labels on blocks and tables, the chat's
   floating label, the help under a field and the primary buttons' white text. */
body:not(.dark) .gradio-container {
  --block-label-text-color: var(--primary-700);
  --block-title-text-color: var(--primary-700);
  --block-info-text-color: var(--neutral-600);
  --button-primary-background-fill: var(--primary-600);
  --button-primary-background-fill-hover: var(--primary-700);
}
/* The chat shows the stored interview; clearing it in the page would only hide answers. */
#chat button[aria-label="Clear"] { display: none !important; }
"""


# -- rendering (pure functions of engine data) ------------------------------------------------------------


KEEP_ANSWER = (gr.update(),) * 4  # a refused answer: its recording, delivery, their note and the text stay


def chat_messages(messages: list[Message]) -> list[dict[str, str]]:
    """The chat as shown: every text (the candidate's and the interviewer's, which a model may write) is literal;
    a spoken answer has its delivery under it."""
    out: list[dict[str, str]] = []
    for m in messages:
        if m.role == "user":
            said = f"\n\n*Spoken: {m.spoken.line()}.*" if m.spoken else ""
            out.append({"role": "user", "content": escape_markdown(m.text) + said})
        else:
            prefix = "**Follow-up:** " if m.kind == "followup" else ""
            out.append({"role": "assistant", "content": prefix + escape_markdown(m.text)})
    return out


def progress_markdown(view: Overview) -> str:
    row = view.session
    started = datetime.fromisoformat(row.created_at)
    end = datetime.fromisoformat(row.updated_at) if view.status == "finished" else config.now()
    minutes = max(0, int((end - started).total_seconds() // 60))
    budget = f" of {view.minutes} min" if view.minutes else ""
    if view.status == "finished":
        where = f"Finished · {view.planned} prompt{'' if view.planned == 1 else 's'}"
    else:
        where = f"Question {view.asked} of {view.planned}"
    return f"**{escape_markdown(row.label)}** · {where} · {minutes} min elapsed{budget} · session `{row.id}`"


def history_rows(rows: list[SessionRow]) -> list[list[Any]]:
    return [
        [r.id, r.created_at.replace("T", " ")[:16], r.label, "-" if r.score is None else f"{r.score:.2f}", r.status]
        for r in rows
    ]


def deletable(rows: list[SessionRow]) -> Any:
    """The History tab's list of sessions that may be deleted."""
    choices = [(f"{r.created_at.replace('T', ' ')[:16]} · {r.label} · {r.id}", r.id) for r in rows]
    return gr.update(choices=choices, value=None)


def heard(engine: Engine, caller: Caller, session_id: str, audio: str | None, typed: str) -> tuple[Any, Any, str]:
    """A recording as text, added to what is already in the answer box (never sent by itself), with the delivery
    kept for the answer and shown under the box. A recording that cannot be read leaves the box as it is, and
    says why; the uploaded file is removed either way."""
    if not audio:
        return gr.update(), gr.update(), ""
    try:
        spoken = engine.hear(caller, session_id, Path(audio).read_bytes())  # bytes: no server path in a message
    except OSError:
        return gr.update(), gr.update(), "**Note:** The recording did not arrive; please record it again."
    except InterviewerError as exc:
        return gr.update(), gr.update(), note(exc)
    finally:
        exports.discard_upload(engine.settings.downloads_dir, Path(audio))
    text = f"{typed.rstrip()} {spoken.text}".strip() if typed.strip() else spoken.text
    return text, spoken.delivery.model_dump_json(), heard_note(spoken)


def heard_note(spoken: Transcription) -> str:
    """Under the box: how long and how it was said, and what was heard with the words to check marked."""
    said = f"*Transcribed {spoken.duration_s:.1f} s of speech: {spoken.delivery.line()}.*"
    if spoken.left_out:
        said += (
            f' *Left out: "{escape_markdown(spoken.left_out)}", a slip of the recogniser (over silence, or a loop).*'
        )
    if not spoken.unsure:
        return f"{said} *Check the text in the box, then send it.*"
    heard = spoken.marked(lambda word: f"<mark>{escape_markdown(word)}</mark>", escape_markdown)
    count = len(spoken.unsure)
    return (
        f"{said}\n\n**Check the marked {'word' if count == 1 else f'{count} words'}**, which the recogniser was "
        f"unsure of, and correct them in the box before sending:\n\n> {heard}"
    )


# -- the app ------------------------------------------------------------------------------------------------


class InterviewApp(AgainHandlers):
    """The handlers: each asks the engine for the caller and maps what it returns to component updates."""

    def __init__(self, engine: Engine, notice: str | None = None) -> None:
        self.engine = engine
        self.notice = notice  # something the operator should know about this start (a rebuilt index)
        self.cards = cards(engine.corpus, [])  # the start page's cards, in order (what each holds; no scores)

    @staticmethod
    def caller(request: gr.Request | None) -> Caller:
        return Caller.web(request.username if request is not None else None)

    def screens(self, session_id: str, caller: Caller, notice: str = "") -> tuple[Any, ...]:
        """Every output of the page: one of the caller's sessions, or the start screen ("" or not theirs)."""
        try:
            rows = self.engine.views.sessions(caller)
        except StorageError as exc:  # the session database is out of reach: say so on the start screen
            rows, notice, session_id = [], notice or note(exc), ""
        snap, notice = self._snapshot(session_id, caller, notice)
        return (*self._turn_part(snap, notice), *self._review_part(snap), history_rows(rows), deletable(rows))

    def turn_screens(self, session_id: str, caller: Caller, notice: str = "") -> tuple[Any, ...]:
        """What an answer, a skip or an end changes: the interview panel. The Review and History tabs are drawn
        when they are opened (`review`, `history`), so a turn neither renders the transcript nor writes downloads."""
        return self._turn_part(*self._snapshot(session_id, caller, notice))

    def _snapshot(self, session_id: str, caller: Caller, notice: str) -> tuple[Snapshot | None, str]:
        """The caller's session (None for "" or a session that is not theirs) and the notice to show with it."""
        degraded = self.engine.degraded()  # a curriculum server out of reach
        notice = notice or (f"**Notice:** {escape_markdown(degraded)}" if degraded else "")
        if session_id:
            try:
                return self.engine.views.snapshot(caller, session_id), notice
            except InterviewerError as exc:
                notice = notice or note(exc)
        return None, notice

    @staticmethod
    def _turn_part(snap: Snapshot | None, notice: str) -> tuple[Any, ...]:
        if snap is None:
            start = (gr.update(visible=True), gr.update(visible=False))
            return ("", *start, "", [], render_grade(None, "markdown"), notice)
        return (
            snap.overview.session.id,
            gr.update(visible=False),
            gr.update(visible=True),
            progress_markdown(snap.overview),
            chat_messages(snap.messages),
            render_grade(snap.last_grade, "markdown"),
            notice,
        )

    def _review_part(self, snap: Snapshot | None) -> tuple[Any, Any, Any]:
        """The graded transcript and its two downloads (written now, in a private folder)."""
        if snap is None:
            hidden = gr.update(value=None, visible=False)
            return "*Finish or open a session to see its graded transcript.*", hidden, hidden
        data = snap.transcript
        markdown = to_markdown(data)
        md_file, json_file = exports.write(
            self.engine.settings.downloads_dir, data.session.id, markdown, data.model_dump_json(indent=2)
        )
        return markdown, gr.update(value=str(md_file), visible=True), gr.update(value=str(json_file), visible=True)

    def review(self, session_id: str, request: gr.Request) -> tuple[Any, Any, Any]:
        """The Review tab, drawn as it opens: the graded transcript of the page's session, with its downloads."""
        try:
            snap = self.engine.views.snapshot(self.caller(request), session_id) if session_id else None
        except InterviewerError:
            snap = None
        return self._review_part(snap)

    def history(self, request: gr.Request) -> tuple[Any, ...]:
        """The History tab, drawn as it opens: the caller's sessions, the delete list, the trend and mastery."""
        caller = self.caller(request)
        try:
            rows = self.engine.views.sessions(caller)
            view = self.engine.views.history(caller, rows)
        except StorageError:
            rows, view = [], History(mastery=[], trend=[])
        return history_rows(rows), deletable(rows), trend_figure(view.trend), mastery_table(view.mastery)

    def start_page(self, request: gr.Request) -> tuple[Any, ...]:
        """The start page's own lines for the caller: the weak-points card and the last/best score on each card."""
        try:
            view = self.engine.views.start_page(self.caller(request))
        except StorageError as exc:
            hidden = gr.update(visible=False)
            return ("", hidden, note(exc), hidden, *[""] * len(self.cards))
        scores = {c.value: card_score(c) for c in view.cards}
        return (
            due_markdown(view),
            gr.update(visible=bool(view.due.prompts)),
            weak_markdown(view),
            gr.update(visible=bool(view.weakest)),
            *[scores.get(card.value, "") for card in self.cards],
        )

    def starter(self, value: str) -> Callable[..., tuple[Any, ...]]:
        """The handler of a card's button: one click starts what the card holds (`value`, a catalog choice)."""

        def start_card(count: float | None, brain: str | None, request: gr.Request) -> tuple[Any, ...]:
            return self.start(value, count, brain, request)

        return start_card

    def load(self, request: gr.Request) -> tuple[Any, ...]:
        wanted = (request.query_params.get("session") or "").strip() if request else ""
        return self.screens(wanted, self.caller(request))

    def start(self, choice: str, count: float | None, brain: str | None, request: gr.Request) -> tuple[Any, ...]:
        caller = self.caller(request)
        try:
            mode, target = parse_choice(choice)
            number = int(count) if count else None
            session_id, _ = self.engine.start(caller, mode, target, count=number, brain=brain or None)
        except InterviewerError as exc:
            return self.screens("", caller, notice=note(exc))
        return self.screens(session_id, caller)

    def answer(self, session_id: str, text: str, spoken: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Send the answer in the box; `spoken` is the delivery of a transcription put in it (see `transcribe`)."""
        return self._act(session_id, request, "submit", text, spoken)

    def transcribe(self, session_id: str, audio: str | None, typed: str, request: gr.Request) -> tuple[Any, Any, str]:
        """A recording as text in the answer box, for the candidate to correct before sending (`heard`)."""
        return heard(self.engine, self.caller(request), session_id, audio, typed)

    def skip(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "skip")

    def end(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "end")

    def _act(
        self, session_id: str, request: gr.Request, action: str, text: str = "", spoken: str | None = None
    ) -> tuple[Any, ...]:
        """Run one engine action; on a refusal keep the typed answer and say why."""
        caller = self.caller(request)
        try:
            if action == "submit":
                said = Delivery.model_validate_json(spoken) if spoken else None
                self.engine.submit(caller, session_id, text, spoken=said)
            elif action == "skip":
                self.engine.skip(caller, session_id)
            else:
                self.engine.end(caller, session_id)
        except StorageError as exc:  # the database is out of reach: the page stays as it is, and says so
            return (*[gr.update()] * 6, note(exc), *KEEP_ANSWER)
        except InterviewerError as exc:  # the session is shown only if the engine finds it the caller's
            return (*self.turn_screens(session_id, caller, notice=note(exc)), *KEEP_ANSWER)
        return (*self.turn_screens(session_id, caller), None, None, "", "")  # sent: recording and box cleared

    def open_session(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self.screens((session_id or "").strip(), self.caller(request))

    def pick_history(self, evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        row = evt.row_value if isinstance(evt.row_value, list) else []
        return self.open_session(str(row[0]) if row else "", request)

    def new_session(self, request: gr.Request) -> tuple[Any, ...]:
        return self.screens("", self.caller(request))

    def ask_delete(self, session_id: str | None, request: gr.Request) -> tuple[Any, Any]:
        """The confirmation step before a session is deleted for good."""
        caller = self.caller(request)
        row = next((r for r in self.engine.views.sessions(caller) if r.id == session_id), None)
        if row is None:
            return gr.update(visible=False), "*Choose one of your sessions to delete first.*"
        question = (
            f"Delete **{escape_markdown(row.label)}** (session `{row.id}`, started {row.created_at[:16]}) with "
            "every answer, grade and download of it? This cannot be undone."
        )
        return gr.update(visible=True), question

    def delete(self, session_id: str | None, shown: str, request: gr.Request) -> tuple[Any, ...]:
        """Delete one of the caller's sessions; the page leaves it if it was open."""
        caller = self.caller(request)
        try:
            summary = self.engine.delete(caller, session_id or "").summary()
        except InterviewerError as exc:
            return (*self.screens(shown if shown != session_id else "", caller), gr.update(visible=False), note(exc))
        return (*self.screens("" if shown == session_id else shown, caller), gr.update(visible=False), summary)

    def tick(self, session_id: str, request: gr.Request) -> Any:
        if not session_id:
            return gr.update()
        try:
            return progress_markdown(self.engine.views.overview(self.caller(request), session_id))
        except InterviewerError:
            return gr.update()


def build_app(engine: Engine, notice: str | None = None) -> Any:
    """The Gradio Blocks app over an engine, with a notice for every page when there is one."""
    return build_page(InterviewApp(engine, notice))


THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
