"""The browser app: a thin Gradio layer over the engine.

Every handler asks the engine and renders what it returns; no interview logic lives here. The page keeps
only the session id (in the URL, `?session=ID`), so a refresh, a closed tab or a server restart resumes
the session from the server-side database.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from interviewer.engine import Engine
from interviewer.errors import InterviewerError
from interviewer.report import conversation, escape_markdown, to_markdown, withheld_note

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
    out: list[dict[str, str]] = []
    for m in conversation(state):
        if m["role"] == "user":
            out.append({"role": "user", "content": escape_markdown(m["text"])})
        else:
            prefix = "**Follow-up:** " if m["kind"] == "followup" else ""
            out.append({"role": "assistant", "content": prefix + m["text"]})
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


def history_rows(engine: Engine, owner: str) -> list[list[Any]]:
    return [
        [r.id, r.created_at.replace("T", " ")[:16], r.label, "-" if r.score is None else f"{r.score:.2f}", r.status]
        for r in engine.sessions(owner)
    ]


def export_files(session_id: str, data: dict[str, Any], markdown: str) -> tuple[str, str]:
    """The transcript as downloadable Markdown and JSON files in the temp folder Gradio may serve."""
    folder = Path(tempfile.gettempdir()) / "interviewer-downloads"
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / f"interview-{session_id}.md"
    js = folder / f"interview-{session_id}.json"
    md.write_text(markdown, encoding="utf-8")
    js.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return str(md), str(js)


# -- the app ------------------------------------------------------------------------------------------------


class InterviewApp:
    """Builds the Blocks app; each handler maps engine results to component updates."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def owner(request: gr.Request | None) -> str:
        return (request.username or "") if request is not None else ""

    def screens(self, session_id: str, owner: str, notice: str = "") -> tuple[Any, ...]:
        """Every output of the page for one session id ("" shows the start screen)."""
        start = gr.update(visible=not session_id)
        if not session_id:
            return (
                "",
                start,
                gr.update(visible=False),
                "",
                [],
                grade_markdown(None),
                notice,
                "*Finish or open a session to see its graded transcript.*",
                gr.update(visible=False),
                gr.update(visible=False),
                history_rows(self.engine, owner),
            )
        snap = self.engine.snapshot(session_id)
        data = snap["transcript"]
        markdown = to_markdown(data)
        md_file, json_file = export_files(session_id, data, markdown)
        return (
            session_id,
            start,
            gr.update(visible=True),
            progress_markdown(snap["overview"]),
            chat_messages(snap["state"]),
            grade_markdown(snap["last_grade"]),
            notice,
            markdown,
            gr.update(value=md_file, visible=True),
            gr.update(value=json_file, visible=True),
            history_rows(self.engine, owner),
        )

    def load(self, request: gr.Request) -> tuple[Any, ...]:
        owner = self.owner(request)
        wanted = (request.query_params.get("session") or "").strip() if request else ""
        if not wanted:
            return self.screens("", owner)
        try:
            return self.screens(self.engine.resolve(wanted, owner), owner)
        except InterviewerError as exc:
            return self.screens("", owner, notice=f"**Note:** {exc}")

    def start(self, choice: str, count: float | None, brain: str | None, request: gr.Request) -> tuple[Any, ...]:
        owner = self.owner(request)
        try:
            mode, target = self.engine.parse_choice(choice)
            number = int(count) if count else None
            session_id, _ = self.engine.start(mode, target, count=number, brain=brain or None, owner=owner)
        except InterviewerError as exc:
            return self.screens("", owner, notice=f"**Note:** {exc}")
        return self.screens(session_id, owner)

    def answer(self, session_id: str, text: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "submit", text)

    def skip(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "skip")

    def end(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        return self._act(session_id, request, "end")

    def _act(self, session_id: str, request: gr.Request, action: str, text: str = "") -> tuple[Any, ...]:
        """Run one engine action; on a refusal keep the typed answer and say why."""
        owner = self.owner(request)
        try:
            sid = self.engine.resolve(session_id, owner)
            if action == "submit":
                self.engine.submit(sid, text)
            elif action == "skip":
                self.engine.skip(sid)
            else:
                self.engine.end(sid)
        except InterviewerError as exc:
            return (*self.screens(session_id if session_id else "", owner, notice=f"**Note:** {exc}"), gr.update())
        return (*self.screens(sid, owner), "")

    def open_session(self, session_id: str, request: gr.Request) -> tuple[Any, ...]:
        owner = self.owner(request)
        try:
            return self.screens(self.engine.resolve(session_id.strip(), owner), owner)
        except InterviewerError as exc:
            return self.screens("", owner, notice=f"**Note:** {exc}")

    def pick_history(self, evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        row = evt.row_value if isinstance(evt.row_value, list) else []
        return self.open_session(str(row[0]) if row else "", request)

    def new_session(self, request: gr.Request) -> tuple[Any, ...]:
        return self.screens("", self.owner(request))

    def tick(self, session_id: str, request: gr.Request) -> Any:
        if not session_id:
            return gr.update()
        try:
            return progress_markdown(self.engine.overview(self.engine.resolve(session_id, self.owner(request))))
        except InterviewerError:
            return gr.update()

    def chart(self, request: gr.Request) -> Any:
        import pandas as pd

        rows = self.engine.progress(self.owner(request))
        frame = pd.DataFrame(rows or [], columns=["at", "session", "objective", "score"])
        if not frame.empty:
            frame["at"] = pd.to_datetime(frame["at"])
        return frame

    def build(self) -> Any:
        with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
            # The session id lives in the page (and its URL), never the session itself.
            session = gr.Textbox(visible="hidden", elem_id="session-id")
            gr.Markdown(
                f"# {TITLE}\nPractise senior MLOps and production-ML interviews. Everything runs on this machine."
            )
            with gr.Tabs() as tabs:
                with gr.Tab("Interview", id="interview"):
                    notice = gr.Markdown(elem_classes=["notice"])
                    with gr.Column(visible=True) as start_panel:
                        choice = gr.Dropdown(
                            choices=self.engine.catalog(),
                            value="day:58",
                            label="What to practise",
                            info="A roadmap day, a topic card, a daily topic, or your weakest prompts so far.",
                        )
                        count = gr.Number(label="Number of prompts (0 = all of them)", precision=0, minimum=0, value=0)
                        brains = self.engine.grader.brains()
                        brain = gr.Radio(
                            choices=brains,
                            value=brains[0][1],
                            label="Grader",
                            info="Which brain grades your answers and writes the follow-ups.",
                            visible=len(brains) > 1,
                        )
                        start_btn = gr.Button("Start", variant="primary")
                    with gr.Column(visible=False) as interview_panel:
                        progress = gr.Markdown()
                        with gr.Row(equal_height=False):
                            with gr.Column(scale=3, min_width=300):
                                chat = gr.Chatbot(
                                    label="Interview",
                                    height=460,
                                    sanitize_html=True,
                                    buttons=["copy", "copy_all"],
                                    elem_id="chat",
                                )
                                answer = gr.Textbox(
                                    label="Your answer",
                                    placeholder="Type your answer. Enter sends; Shift+Enter starts a new line.",
                                    lines=1,
                                    max_lines=12,
                                    max_length=self.engine.settings.max_answer_chars + 1,
                                )
                                with gr.Row():
                                    send_btn = gr.Button("Send", variant="primary")
                                    skip_btn = gr.Button("Skip question")
                                    end_btn = gr.Button("End now", variant="stop")
                                    new_btn = gr.Button("New session")
                            with gr.Column(scale=2, min_width=260):
                                show = gr.Checkbox(value=True, label="Show grades after each answer")
                                grade = gr.Markdown(grade_markdown(None), elem_classes=["grade-panel"])
                with gr.Tab("Review", id="review"):
                    review = gr.Markdown()
                    with gr.Row():
                        download_md = gr.DownloadButton("Download Markdown", visible=False)
                        download_json = gr.DownloadButton("Download JSON", visible=False)
                with gr.Tab("History", id="history") as history_tab:
                    history = gr.Dataframe(
                        headers=["session", "started (UTC)", "practice", "score", "status"],
                        interactive=False,
                        label="Past sessions: select one to reopen or resume it",
                    )
                    chart = gr.ScatterPlot(
                        x="at",
                        y="score",
                        color="objective",
                        y_lim=[0, 4],
                        x_title="session",
                        label="Score per objective, per session",
                    )
            timer = gr.Timer(5)

            screens = [
                session,
                start_panel,
                interview_panel,
                progress,
                chat,
                grade,
                notice,
                review,
                download_md,
                download_json,
                history,
            ]
            private: dict[str, Any] = {"api_visibility": "private"}
            set_url: dict[str, Any] = {"fn": None, "inputs": [session], "outputs": None, "js": SET_URL_JS, **private}
            with_answer = [*screens, answer]
            demo.load(self.load, None, screens, api_name="load").then(**set_url)
            start_btn.click(self.start, [choice, count, brain], screens, api_name="start").then(**set_url)
            send_btn.click(self.answer, [session, answer], with_answer, api_name="answer").then(**set_url)
            answer.submit(self.answer, [session, answer], with_answer, **private).then(**set_url)
            skip_btn.click(self.skip, [session], with_answer, api_name="skip")
            end_btn.click(self.end, [session], with_answer, api_name="end").then(
                lambda: gr.Tabs(selected="review"), None, tabs, **private
            )
            opener = gr.Textbox(visible=False)
            opener.submit(self.open_session, [opener], screens, api_name="open_session")
            new_btn.click(self.new_session, None, screens, **private).then(**set_url)
            history.select(self.pick_history, None, screens, **private).then(**set_url).then(
                lambda: gr.Tabs(selected="interview"), None, tabs, **private
            )
            history_tab.select(self.chart, None, chart, api_name="progress_chart")
            show.change(lambda visible: gr.update(visible=visible), show, grade, **private)
            timer.tick(self.tick, [session], progress, **private)
        return demo


def build_app(engine: Engine) -> Any:
    """The Gradio Blocks app over an engine."""
    return InterviewApp(engine).build()


THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
