"""The browser app: a thin Gradio layer over the engine.

Every handler asks the engine and renders what it returns; no interview logic lives here. The page keeps
only the session id (in the URL, `?session=ID`), so a refresh, a closed tab or a server restart resumes
the session from the server-side database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import gradio as gr

from interviewer import exports
from interviewer.access import Caller
from interviewer.disclosure import withheld_note
from interviewer.engine import Engine
from interviewer.errors import InterviewerError
from interviewer.report import escape_markdown, to_markdown
from interviewer.store import SessionRow
from interviewer.transcript import conversation

TITLE = "MLOps mock interviewer"
CSS = """
.grade-panel { font-size: 0.92rem; }
.notice { color: var(--error-text-color, #b91c1c); }
footer { display: none !important; }
/* The chat shows the stored interview; clearing it in the page would only hide answers. */
#chat button[aria-label="Clear"] { display: none !important; }
"""
SET_URL_JS = """
(sid) => {
  const url = new URL(window.location.href);
  if (sid) { url.searchParams.set("session", sid); } else { url.searchParams.delete("session"); }
  window.history.replaceState(null, "", url);
  return sid;
}
"""
VERDICT_MARK = {"covered": "**covered**", "partial": "*partial*", "missed": "missed"}


# -- rendering (pure functions of engine data) ------------------------------------------------------------


def grade_markdown(grade: dict[str, Any] | None) -> str:
    if not grade:
        return "*Grades appear here after each answer.*"
    lines = [f"### Last answer: {grade['score']}/4", f"Coverage {grade['coverage']:.0%} · brain {grade['brain']}", ""]
    if grade.get("fallback"):
        lines += [f"*{escape_markdown(grade['fallback'])}*", ""]
    for p in grade["points"]:
        lines.append(f"- {VERDICT_MARK[p['verdict']]}: {p['text']}")
    if grade.get("withheld"):
        lines.append(f"- {withheld_note(grade)}")
    for r in grade.get("red_flags", []):
        lines.append(f"- **misconception**: {r['claim']}")
    if grade.get("flags"):
        lines += ["", "Flags: " + ", ".join(f.replace("_", " ") for f in grade["flags"])]
    return "\n".join(lines)


def chat_messages(state: dict[str, Any]) -> list[dict[str, str]]:
    """The chat as shown: every text (the candidate's and the interviewer's, which a model may write) is literal."""
    out: list[dict[str, str]] = []
    for m in conversation(state):
        if m["role"] == "user":
            out.append({"role": "user", "content": escape_markdown(m["text"])})
        else:
            prefix = "**Follow-up:** " if m["kind"] == "followup" else ""
            out.append({"role": "assistant", "content": prefix + escape_markdown(m["text"])})
    return out


def progress_markdown(view: dict[str, Any]) -> str:
    row = view["session"]
    started = datetime.fromisoformat(row["created_at"])
    end = datetime.fromisoformat(row["updated_at"]) if view["status"] == "finished" else datetime.now(UTC)
    minutes = max(0, int((end - started).total_seconds() // 60))
    budget = f" of {view['minutes']} min" if view["minutes"] else ""
    if view["status"] == "finished":
        where = f"Finished · {view['planned']} prompts"
    else:
        where = f"Question {view['asked']} of {view['planned']}"
    return f"**{escape_markdown(row['label'])}** · {where} · {minutes} min elapsed{budget} · session `{row['id']}`"


def history_rows(rows: list[SessionRow]) -> list[list[Any]]:
    return [
        [r.id, r.created_at.replace("T", " ")[:16], r.label, "-" if r.score is None else f"{r.score:.2f}", r.status]
        for r in rows
    ]


def deletable(rows: list[SessionRow]) -> Any:
    """The History tab's list of sessions that may be deleted."""
    choices = [(f"{r.created_at.replace('T', ' ')[:16]} · {r.label} · {r.id}", r.id) for r in rows]
    return gr.update(choices=choices, value=None)


def note(exc: Exception) -> str:
    return f"**Note:** {escape_markdown(str(exc))}"


# -- the app ------------------------------------------------------------------------------------------------


class InterviewApp:
    """The handlers: each asks the engine for the caller and maps what it returns to component updates."""

    def __init__(self, engine: Engine, notice: str | None = None) -> None:
        self.engine = engine
        self.notice = notice  # something the operator should know about this start (a rebuilt index)

    @staticmethod
    def caller(request: gr.Request | None) -> Caller:
        return Caller.web(request.username if request is not None else None)

    def screens(self, session_id: str, caller: Caller, notice: str = "") -> tuple[Any, ...]:
        """Every output of the page: one of the caller's sessions, or the start screen ("" or not theirs)."""
        rows = self.engine.sessions(caller)
        if session_id:
            try:
                snap = self.engine.snapshot(caller, session_id)
            except InterviewerError as exc:
                return self.screens("", caller, notice or note(exc))
            return self._session_screens(snap, notice, rows)
        return (
            "",
            gr.update(visible=True),
            gr.update(visible=False),
            "",
            [],
            grade_markdown(None),
            notice,
            "*Finish or open a session to see its graded transcript.*",
            gr.update(value=None, visible=False),
            gr.update(value=None, visible=False),
            history_rows(rows),
            deletable(rows),
        )

    def _session_screens(self, snap: dict[str, Any], notice: str, rows: list[SessionRow]) -> tuple[Any, ...]:
        data = snap["transcript"]
        session_id = data["session"]["id"]
        markdown = to_markdown(data)
        md_file, json_file = exports.write(self.engine.settings.downloads_dir, session_id, data, markdown)
        return (
            session_id,
            gr.update(visible=False),
            gr.update(visible=True),
            progress_markdown(snap["overview"]),
            chat_messages(snap["state"]),
            grade_markdown(snap["last_grade"]),
            notice,
            markdown,
            gr.update(value=str(md_file), visible=True),
            gr.update(value=str(json_file), visible=True),
            history_rows(rows),
            deletable(rows),
        )

    def load(self, request: gr.Request) -> tuple[Any, ...]:
        wanted = (request.query_params.get("session") or "").strip() if request else ""
        return self.screens(wanted, self.caller(request))

    def start(self, choice: str, count: float | None, brain: str | None, request: gr.Request) -> tuple[Any, ...]:
        caller = self.caller(request)
        try:
            mode, target = self.engine.parse_choice(choice)
            number = int(count) if count else None
            session_id, _ = self.engine.start(caller, mode, target, count=number, brain=brain or None)
        except InterviewerError as exc:
            return self.screens("", caller, notice=note(exc))
        return self.screens(session_id, caller)

    def answer(self, session_id: str, text: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "submit", text)

    def skip(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "skip")

    def end(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "end")

    def _act(self, session_id: str, request: gr.Request, action: str, text: str = "") -> tuple[Any, ...]:
        """Run one engine action; on a refusal keep the typed answer and say why."""
        caller = self.caller(request)
        try:
            sid = self.engine.resolve(caller, session_id)
        except InterviewerError as exc:  # not the caller's session: show nothing of it
            return (*self.screens("", caller, notice=note(exc)), gr.update())
        try:
            if action == "submit":
                self.engine.submit(caller, sid, text)
            elif action == "skip":
                self.engine.skip(caller, sid)
            else:
                self.engine.end(caller, sid)
        except InterviewerError as exc:
            return (*self.screens(sid, caller, notice=note(exc)), gr.update())
        return (*self.screens(sid, caller), "")

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
        row = next((r for r in self.engine.sessions(caller) if r.id == session_id), None)
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
            return progress_markdown(self.engine.overview(self.caller(request), session_id))
        except InterviewerError:
            return gr.update()

    def chart(self, request: gr.Request) -> Any:
        import pandas as pd

        rows = self.engine.progress(self.caller(request))
        frame = pd.DataFrame(rows or [], columns=["at", "session", "objective", "score"])
        if not frame.empty:
            frame["at"] = pd.to_datetime(frame["at"])
        return frame

    def build(self) -> Any:
        with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
            page = Page()
            # The session id lives in the page (and its URL), never the session itself.
            page.session = gr.Textbox(visible="hidden", elem_id="session-id")
            gr.Markdown(
                f"# {TITLE}\nPractise senior MLOps and production-ML interviews. Everything runs on this machine."
            )
            if self.notice:
                gr.Markdown(f"**Notice:** {escape_markdown(self.notice)}", elem_classes=["notice"])
            with gr.Tabs() as page.tabs:
                with gr.Tab("Interview", id="interview"):
                    page.notice = gr.Markdown(elem_classes=["notice"])
                    self._start_panel(page)
                    self._interview_panel(page)
                with gr.Tab("Review", id="review"):
                    page.review = gr.Markdown()
                    with gr.Row():
                        page.download_md = gr.DownloadButton("Download Markdown", visible=False)
                        page.download_json = gr.DownloadButton("Download JSON", visible=False)
                with gr.Tab("History", id="history") as page.history_tab:
                    self._history_tab(page)
            page.timer = gr.Timer(5)
            page.demo = demo
            self._wire(page)
        return demo

    def _start_panel(self, page: Page) -> None:
        with gr.Column(visible=True) as page.start_panel:
            page.choice = gr.Dropdown(
                choices=self.engine.catalog(),
                value="day:58",
                label="What to practise",
                info="A roadmap day, a topic card, a daily topic, or your weakest prompts so far.",
            )
            page.count = gr.Number(label="Number of prompts (0 = all of them)", precision=0, minimum=0, value=0)
            brains = self.engine.grader.brains()
            page.brain = gr.Radio(
                choices=brains,
                value=brains[0][1],
                label="Grader",
                info="Which brain grades your answers and writes the follow-ups.",
                visible=len(brains) > 1,
            )
            page.start_btn = gr.Button("Start", variant="primary")

    def _interview_panel(self, page: Page) -> None:
        with gr.Column(visible=False) as page.interview_panel:
            page.progress = gr.Markdown()
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    page.chat = gr.Chatbot(
                        label="Interview", height=460, sanitize_html=True, buttons=["copy", "copy_all"], elem_id="chat"
                    )
                    page.answer = gr.Textbox(
                        label="Your answer",
                        placeholder="Type your answer. Enter sends; Shift+Enter starts a new line.",
                        lines=1,
                        max_lines=12,
                        max_length=self.engine.settings.max_answer_chars + 1,
                    )
                    with gr.Row():
                        page.send_btn = gr.Button("Send", variant="primary")
                        page.skip_btn = gr.Button("Skip question")
                        page.end_btn = gr.Button("End now", variant="stop")
                        page.new_btn = gr.Button("New session")
                with gr.Column(scale=2, min_width=260):
                    page.show = gr.Checkbox(value=True, label="Show grades after each answer")
                    page.grade = gr.Markdown(grade_markdown(None), elem_classes=["grade-panel"])

    def _history_tab(self, page: Page) -> None:
        page.history = gr.Dataframe(
            headers=["session", "started (UTC)", "practice", "score", "status"],
            interactive=False,
            label="Past sessions: select one to reopen or resume it",
        )
        page.chart = gr.ScatterPlot(
            x="at", y="score", color="objective", y_lim=[0, 4], x_title="session", label="Score per objective"
        )
        with gr.Row(equal_height=True):
            page.forget_pick = gr.Dropdown(choices=[], value=None, label="Delete one of your sessions", scale=3)
            page.forget_ask = gr.Button("Delete…", variant="stop", scale=1)
        page.forget_note = gr.Markdown()
        with gr.Group(visible=False) as page.forget_confirm:
            page.forget_question = gr.Markdown()
            with gr.Row():
                page.forget_yes = gr.Button("Yes, delete it for good", variant="stop")
                page.forget_no = gr.Button("Cancel")

    def _wire(self, page: Page) -> None:
        screens = page.screens()
        private: dict[str, Any] = {"api_visibility": "private"}
        set_url: dict[str, Any] = {"fn": None, "inputs": [page.session], "outputs": None, "js": SET_URL_JS, **private}
        with_answer = [*screens, page.answer]
        to_tab = {tab: (lambda tab=tab: gr.Tabs(selected=tab)) for tab in ("interview", "review")}
        page.demo.load(self.load, None, screens, api_name="load").then(**set_url)
        page.start_btn.click(self.start, [page.choice, page.count, page.brain], screens, api_name="start").then(
            **set_url
        )
        page.send_btn.click(self.answer, [page.session, page.answer], with_answer, api_name="answer").then(**set_url)
        page.answer.submit(self.answer, [page.session, page.answer], with_answer, **private).then(**set_url)
        page.skip_btn.click(self.skip, [page.session], with_answer, api_name="skip")
        page.end_btn.click(self.end, [page.session], with_answer, api_name="end").then(
            to_tab["review"], None, page.tabs, **private
        )
        opener = gr.Textbox(visible=False)
        opener.submit(self.open_session, [opener], screens, api_name="open_session")
        page.new_btn.click(self.new_session, None, screens, **private).then(**set_url)
        page.history.select(self.pick_history, None, screens, **private).then(**set_url).then(
            to_tab["interview"], None, page.tabs, **private
        )
        page.history_tab.select(self.chart, None, page.chart, api_name="progress_chart")
        confirm = [page.forget_confirm, page.forget_question]
        page.forget_ask.click(self.ask_delete, [page.forget_pick], confirm, **private)
        page.forget_no.click(lambda: gr.update(visible=False), None, page.forget_confirm, **private)
        page.forget_yes.click(
            self.delete,
            [page.forget_pick, page.session],
            [*screens, page.forget_confirm, page.forget_note],
            api_name="delete_session",
        ).then(**set_url)
        page.show.change(lambda visible: gr.update(visible=visible), page.show, page.grade, **private)
        page.timer.tick(self.tick, [page.session], page.progress, **private)


class Page:
    """The page's components, filled in as the layout is built."""

    session: Any
    tabs: Any
    notice: Any
    start_panel: Any
    choice: Any
    count: Any
    brain: Any
    start_btn: Any
    interview_panel: Any
    progress: Any
    chat: Any
    answer: Any
    send_btn: Any
    skip_btn: Any
    end_btn: Any
    new_btn: Any
    show: Any
    grade: Any
    review: Any
    download_md: Any
    download_json: Any
    history_tab: Any
    history: Any
    chart: Any
    forget_pick: Any
    forget_ask: Any
    forget_note: Any
    forget_confirm: Any
    forget_question: Any
    forget_yes: Any
    forget_no: Any
    timer: Any
    demo: Any

    def screens(self) -> list[Any]:
        """The outputs of every handler that draws a whole page, in the order `InterviewApp.screens` returns."""
        return [
            self.session,
            self.start_panel,
            self.interview_panel,
            self.progress,
            self.chat,
            self.grade,
            self.notice,
            self.review,
            self.download_md,
            self.download_json,
            self.history,
            self.forget_pick,
        ]


def build_app(engine: Engine, notice: str | None = None) -> Any:
    """The Gradio Blocks app over an engine, with a notice for every page when there is one."""
    return InterviewApp(engine, notice).build()


THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
