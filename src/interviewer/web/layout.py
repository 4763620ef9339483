"""The page's layout and wiring: which components it has, where they sit and which handler each calls.

Only declaration lives here; what a handler does is in `handlers.InterviewApp`, which `Handlers` describes.
"""

from __future__ import annotations

from typing import Any, Protocol

import gradio as gr

from interviewer.interview.choices import catalog
from interviewer.interview.engine import Engine
from interviewer.interview.grade_text import escape_markdown, render_grade
from interviewer.interview.progress import Card
from interviewer.web.practice import MASTERY_HEADERS, card_markdown, card_objectives


class Handlers(Protocol):
    """What the page needs of its handlers: the engine, the start notice, the cards, and one callable a control."""

    engine: Engine
    notice: str | None
    cards: list[Card]

    def load(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_page(self, *args: Any, **kwargs: Any) -> Any: ...
    def starter(self, value: str) -> Any: ...
    def start(self, *args: Any, **kwargs: Any) -> Any: ...
    def answer(self, *args: Any, **kwargs: Any) -> Any: ...
    def transcribe(self, *args: Any, **kwargs: Any) -> Any: ...
    def skip(self, *args: Any, **kwargs: Any) -> Any: ...
    def again(self, *args: Any, **kwargs: Any) -> Any: ...
    def again_last(self, *args: Any, **kwargs: Any) -> Any: ...
    def again_controls(self, *args: Any, **kwargs: Any) -> Any: ...
    def end(self, *args: Any, **kwargs: Any) -> Any: ...
    def review(self, *args: Any, **kwargs: Any) -> Any: ...
    def open_session(self, *args: Any, **kwargs: Any) -> Any: ...
    def new_session(self, *args: Any, **kwargs: Any) -> Any: ...
    def pick_history(self, *args: Any, **kwargs: Any) -> Any: ...
    def history(self, *args: Any, **kwargs: Any) -> Any: ...
    def ask_delete(self, *args: Any, **kwargs: Any) -> Any: ...
    def delete(self, *args: Any, **kwargs: Any) -> Any: ...
    def tick(self, *args: Any, **kwargs: Any) -> Any: ...


TITLE = "MLOps mock interviewer"
SET_URL_JS = """
(sid) => {
  const url = new URL(window.location.href);
  if (sid) { url.searchParams.set("session", sid); } else { url.searchParams.delete("session"); }
  window.history.replaceState(null, "", url);
  return sid;
}
"""

# The browser's own speech synthesis reads the newest question, when asked to and when the browser has a voice.
READ_ALOUD_JS = """
(on, chat) => {
  const said = window.speechSynthesis;
  if (!on || !said || !chat || !chat.length) { return; }
  const last = chat[chat.length - 1];
  if (last.role !== "assistant") { return; }
  const content = Array.isArray(last.content) ? last.content.map((p) => p.text || "").join(" ") : String(last.content);
  if (!said.getVoices().length) { return; }
  said.cancel();
  said.speak(new SpeechSynthesisUtterance(content.replace(/[*_`]/g, "").split(String.fromCharCode(92)).join("")));
}
"""


def build_page(app: Handlers) -> Any:
    """The page: its tabs and panels, each control wired to its handler on `app`."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        page = Page()
        # The session id lives in the page (and its URL), never the session itself.
        page.session = gr.Textbox(visible="hidden", elem_id="session-id")
        gr.Markdown(f"# {TITLE}\nPractise senior MLOps and production-ML interviews. Everything runs on this machine.")
        if app.notice:
            gr.Markdown(f"**Notice:** {escape_markdown(app.notice)}", elem_classes=["notice"])
        with gr.Tabs() as page.tabs:
            with gr.Tab("Interview", id="interview"):
                page.notice = gr.Markdown(elem_classes=["notice"])
                _start_panel(page, app)
                _interview_panel(page, app.engine.settings.max_answer_chars)
            with gr.Tab("Review", id="review") as page.review_tab:
                _review_tab(page)
            with gr.Tab("History", id="history") as page.history_tab:
                _history_tab(page)
        page.timer = gr.Timer(5)
        page.demo = demo
        _wire(page, app)
    return demo


def _start_panel(page: Page, app: Handlers) -> None:
    with gr.Column(visible=True) as page.start_panel:
        with gr.Row(equal_height=True):
            page.choice = gr.Dropdown(
                choices=catalog(app.engine.corpus),
                value="day:58",
                label="What to practise",
                info="A roadmap day, a topic card, a daily topic, or your weakest prompts so far.",
                scale=3,
            )
            page.count = gr.Number(
                label="Number of prompts (0 = all of them)", precision=0, minimum=0, value=0, scale=1, min_width=160
            )
        brains = app.engine.brains()
        page.brain = gr.Radio(
            choices=brains,
            value=brains[0][1],
            label="Grader",
            info="Which brain grades your answers and writes the follow-ups.",
            visible=len(brains) > 1,
        )
        # The starters wake when the page has loaded (`_wire`): a click before then would be overwritten by it.
        page.start_btn = gr.Button("Start", variant="primary", interactive=False)
        _cards(page, app)


def _cards(page: Page, app: Handlers) -> None:
    """The questions due today, a card per daily-plan day and topic card, and one for the weakest objectives; each
    starts with one click."""
    with gr.Group(elem_classes=["card", "due-card"], elem_id="due-card"):
        page.due = gr.Markdown()
        page.due_btn = gr.Button("Practise the due questions", size="sm", variant="primary", visible=False)
    with gr.Group(elem_classes=["card", "weak-card"]):
        page.weak = gr.Markdown()
        page.weak_btn = gr.Button("Review my weak points", size="sm", visible=False)
    page.card_scores, page.card_buttons = [], []
    with gr.Row(elem_id="cards"):
        for card in app.cards:
            with gr.Column(min_width=280, elem_classes=["card"]):
                gr.Markdown(card_markdown(card))
                page.card_scores.append(gr.Markdown())
                gr.Markdown(card_objectives(card))
                button = gr.Button(f"Practise {card.title}", size="sm", variant="secondary", interactive=False)
                page.card_buttons.append((button, card.value))


def _interview_panel(page: Page, max_answer_chars: int) -> None:
    with gr.Column(visible=False) as page.interview_panel:
        page.progress = gr.Markdown()
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                page.chat = gr.Chatbot(
                    label="Interview", height=460, sanitize_html=True, buttons=["copy", "copy_all"], elem_id="chat"
                )
                with gr.Row(equal_height=False):
                    page.answer = gr.Textbox(
                        label="Your answer",
                        placeholder="Type your answer, or speak it. Enter sends; Shift+Enter starts a new line.",
                        lines=1,
                        max_lines=12,
                        max_length=max_answer_chars + 1,
                        scale=3,
                    )
                    page.audio = gr.Audio(
                        sources=["microphone", "upload"],
                        type="filepath",
                        format="wav",
                        label="Speak your answer",
                        editable=False,
                        buttons=[],
                        scale=2,
                        min_width=220,
                        elem_id="voice",
                    )
                page.voice_note = gr.Markdown(elem_id="voice-note")
                page.spoken = gr.State(None)  # the delivery of the transcription in the box, until it is sent
                with gr.Row():
                    page.send_btn = gr.Button("Send", variant="primary")
                    page.skip_btn = gr.Button("Skip question")
                    page.end_btn = gr.Button("End now", variant="stop")
                    page.new_btn = gr.Button("New session")
                # Once a question is done: the latest one, asked again as a new attempt (its label names it).
                page.again_btn = gr.Button("Answer again", visible=False, elem_id="again-btn")
            with gr.Column(scale=2, min_width=260):
                page.show = gr.Checkbox(value=True, label="Show grades after each answer")
                page.read_aloud = gr.Checkbox(
                    value=False,
                    label="Read questions aloud",
                    info="With your browser's own voice, when it has one; nothing is sent anywhere.",
                )
                page.grade = gr.Markdown(render_grade(None, "markdown"), elem_classes=["grade-panel"])


def _review_tab(page: Page) -> None:
    with gr.Row(equal_height=False, visible=False, elem_id="again-row") as page.again_row:
        page.again_pick = gr.Dropdown(
            choices=[],
            value=None,
            label="Answer one of this session's questions again",
            allow_custom_value=True,  # the `/again` API names any prompt id; the engine decides whether it is done
            scale=3,
        )
        page.again_review = gr.Button("Answer again", scale=1, min_width=140)
    page.review = gr.Markdown(elem_classes=["review-md"])
    with gr.Row():
        page.download_md = gr.DownloadButton("Download Markdown", visible=False)
        page.download_json = gr.DownloadButton("Download JSON", visible=False)


def _history_tab(page: Page) -> None:
    page.history = gr.Dataframe(
        headers=["session", "started (UTC)", "practice", "score", "status"],
        interactive=False,
        label="Past sessions: select one to reopen or resume it",
        elem_id="sessions",
    )
    page.trend = gr.Plot(label="Your session scores over time", format="png", elem_id="trend")
    page.mastery = gr.Dataframe(
        headers=MASTERY_HEADERS,
        interactive=False,
        wrap=True,
        # Each column fits its longest word ("attempts", "mastered"); the table scrolls sideways on a phone.
        column_widths=["320px", "180px", "80px", "80px", "110px", "150px", "110px", "110px"],
        label="Mastery per learning objective (weakest first; weak = latest score 2/4 or less)",
        elem_id="mastery",
    )
    with gr.Row(equal_height=False, elem_id="forget-row"):  # the button keeps its own height (CSS: #forget-row)
        page.forget_pick = gr.Dropdown(choices=[], value=None, label="Delete one of your sessions", scale=3)
        page.forget_ask = gr.Button("Delete…", variant="stop", scale=1)
    page.forget_note = gr.Markdown()
    with gr.Group(visible=False) as page.forget_confirm:
        page.forget_question = gr.Markdown()
        with gr.Row():
            page.forget_yes = gr.Button("Yes, delete it for good", variant="stop")
            page.forget_no = gr.Button("Cancel")


def _wire(page: Page, app: Handlers) -> None:
    """Every control to its handler; the API names are what the web API tests and clients call."""
    screens = page.screens()
    private: dict[str, Any] = {"api_visibility": "private"}
    set_url: dict[str, Any] = {"fn": None, "inputs": [page.session], "outputs": None, "js": SET_URL_JS, **private}
    with_answer = [*page.turn_screens(), page.audio, page.spoken, page.voice_note, page.answer]
    heard = [page.answer, page.spoken, page.voice_note]
    for event in (page.audio.stop_recording, page.audio.upload):
        event(app.transcribe, [page.session, page.audio, page.answer], heard, **private)
    page.chat.change(None, [page.read_aloud, page.chat], None, js=READ_ALOUD_JS, **private)
    review = [page.review, page.download_md, page.download_json]
    to_tab = {tab: (lambda tab=tab: gr.Tabs(selected=tab)) for tab in ("interview", "review")}
    start_page = [page.due, page.due_btn, page.weak, page.weak_btn, *page.card_scores]
    starters = [page.start_btn, *(button for button, _ in page.card_buttons)]
    page.demo.load(app.load, None, screens, api_name="load").then(**set_url).then(
        lambda: [gr.update(interactive=True)] * len(starters), None, starters, **private
    ).then(app.start_page, None, start_page, api_name="start_page")
    for button, value in page.card_buttons:
        button.click(app.starter(value), [page.count, page.brain], screens, **private).then(**set_url)
    _wire_practice(page, app, set_url, to_tab["interview"])
    page.start_btn.click(app.start, [page.choice, page.count, page.brain], screens, api_name="start").then(**set_url)
    answering = [page.session, page.answer, page.spoken]
    page.send_btn.click(app.answer, answering, with_answer, api_name="answer").then(**set_url)
    page.answer.submit(app.answer, answering, with_answer, **private).then(**set_url)
    page.skip_btn.click(app.skip, [page.session], with_answer, api_name="skip")
    page.end_btn.click(app.end, [page.session], with_answer, api_name="end").then(
        to_tab["review"], None, page.tabs, **private
    ).then(app.review, [page.session], review, api_name="end_review", **private)
    page.review_tab.select(app.review, [page.session], review, api_name="review")
    opener = gr.Textbox(visible=False)
    opener.submit(app.open_session, [opener], screens, api_name="open_session")
    page.new_btn.click(app.new_session, None, screens, **private).then(**set_url).then(
        app.start_page, None, start_page, **private
    )
    page.history.select(app.pick_history, None, screens, **private).then(**set_url).then(
        to_tab["interview"], None, page.tabs, **private
    )
    history = [page.history, page.forget_pick, page.trend, page.mastery]
    page.history_tab.select(app.history, None, history, api_name="history")
    confirm = [page.forget_confirm, page.forget_question]
    page.forget_ask.click(app.ask_delete, [page.forget_pick], confirm, **private)
    page.forget_no.click(lambda: gr.update(visible=False), None, page.forget_confirm, **private)
    page.forget_yes.click(
        app.delete,
        [page.forget_pick, page.session],
        [*screens, page.forget_confirm, page.forget_note],
        api_name="delete_session",
    ).then(**set_url)
    page.show.change(lambda visible: gr.update(visible=visible), page.show, page.grade, **private)
    page.timer.tick(app.tick, [page.session], page.progress, **private)


def _wire_practice(page: Page, app: Handlers, set_url: dict[str, Any], to_interview: Any) -> None:
    """Answering again, the due questions and the weak points. The "Answer again" controls follow the progress line,
    which changes whenever a question is done or another session opens."""
    private: dict[str, Any] = {"api_visibility": "private"}
    screens = page.screens()
    controls = [page.again_btn, page.again_pick, page.again_row]
    page.progress.change(app.again_controls, [page.session], controls, **private)
    page.again_btn.click(app.again_last, [page.session], screens, **private).then(**set_url)
    page.again_review.click(app.again, [page.session, page.again_pick], screens, api_name="again").then(**set_url).then(
        to_interview, None, page.tabs, **private
    )
    for button, choice in ((page.due_btn, "due:"), (page.weak_btn, "review:")):
        button.click(app.starter(choice), [page.count, page.brain], screens, **private).then(**set_url)


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
    audio: Any
    voice_note: Any
    spoken: Any
    read_aloud: Any
    send_btn: Any
    skip_btn: Any
    end_btn: Any
    new_btn: Any
    show: Any
    grade: Any
    review_tab: Any
    review: Any
    download_md: Any
    download_json: Any
    history_tab: Any
    history: Any
    trend: Any
    mastery: Any
    weak: Any
    weak_btn: Any
    due: Any
    due_btn: Any
    again_btn: Any
    again_row: Any
    again_pick: Any
    again_review: Any
    card_scores: list[Any]
    card_buttons: list[tuple[Any, str]]
    forget_pick: Any
    forget_ask: Any
    forget_note: Any
    forget_confirm: Any
    forget_question: Any
    forget_yes: Any
    forget_no: Any
    timer: Any
    demo: Any

    def turn_screens(self) -> list[Any]:
        """The outputs of a turn (answer, skip, end), in the order `InterviewApp.turn_screens` returns."""
        return [self.session, self.start_panel, self.interview_panel, self.progress, self.chat, self.grade, self.notice]

    def screens(self) -> list[Any]:
        """The outputs of every handler that draws a whole page, in the order `InterviewApp.screens` returns."""
        return [
            *self.turn_screens(),
            self.review,
            self.download_md,
            self.download_json,
            self.history,
            self.forget_pick,
        ]
