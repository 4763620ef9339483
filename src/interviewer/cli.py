"""`interviewer`: the command line. Thin: parsing, printing and exit codes; the engine does the work."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from interviewer.config import Settings
from interviewer.errors import InterviewerError
from interviewer.interview.access import Caller

if TYPE_CHECKING:
    from interviewer.curriculum.corpus import PromptRef
    from interviewer.interview.records import Question, ShownGrade

EXIT_ERROR = 2


def _settings() -> Settings:
    """Every setting, read from the environment; a bad value is an InterviewerError naming its variable."""
    return Settings()


# -- corpus and index ---------------------------------------------------------------------------------


def cmd_corpus_validate(args: argparse.Namespace) -> int:
    from interviewer.curriculum.corpus import load_corpus, validate

    settings = _settings()
    problems = validate(settings.corpus_dir)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {settings.corpus_dir}", file=sys.stderr)
        return 1
    corpus = load_corpus(settings.corpus_dir)
    print(
        f"corpus ok: {len(corpus.topics)} topics, {len(corpus.days)} days, {len(corpus.prompts)} prompts, "
        f"{sum(len(r.prompt.rubric) for r in corpus.prompts.values())} rubric points (version {corpus.version})"
    )
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from interviewer.curriculum.corpus import load_corpus
    from interviewer.curriculum.index_server import open_index
    from interviewer.grading.grader import store_rubric_tokens

    settings = _settings()
    corpus = load_corpus(settings.corpus_dir)
    index = open_index(settings, corpus, writer=True)  # the one writer of a server index
    report = index.rebuild() if args.rebuild else index.sync()
    where = settings.chroma_url or settings.index_dir
    print(f"index {where}: {report.added} embedded, {report.removed} removed, {report.kept} unchanged")
    store_rubric_tokens(settings, corpus)
    return 0


def cmd_prompts(args: argparse.Namespace) -> int:
    from interviewer.curriculum.corpus import load_corpus

    corpus = load_corpus(_settings().corpus_dir)
    for ref in corpus.prompts.values():
        if args.day is not None and ref.topic.day != args.day:
            continue
        if args.topic and ref.topic.id != args.topic:
            continue
        print(f"{ref.prompt.id}\tDay {ref.topic.day}\t{ref.topic.id}\t{ref.prompt.text}")
    return 0


# -- grading ------------------------------------------------------------------------------------------


def _grade_text(grade: ShownGrade, verbose: bool = False) -> str:
    """A grade for the terminal (see `grade_text.render_grade`): short (the points made, a count of the rest), or with
    `verbose` every key point in full with the grader's advice under it."""
    from interviewer.interview.grade_text import advice_lines, render_grade

    if not verbose:
        return render_grade(grade, "text", verbose=False)
    return "\n".join([render_grade(grade, "text"), *advice_lines(grade)])


def cmd_grade(args: argparse.Namespace) -> int:
    from interviewer.grading.grader import Grader
    from interviewer.interview.disclosure import shown_grade

    grader = Grader(_settings())
    if args.batch:
        return _grade_batch(grader, Path(args.batch), args.brain)
    if (args.prompt_id is None) == (args.prompt is None):
        raise InterviewerError("Give exactly one of --prompt-id or --prompt (or --batch FILE).")
    if [args.answer, args.answer_file, args.audio].count(None) != 2:
        raise InterviewerError("Give exactly one of --answer, --answer-file or --audio.")
    ref = grader.corpus.prompt(args.prompt_id) if args.prompt_id else grader.corpus.prompt_by_text(args.prompt)
    if args.audio is not None:
        answer = _spoken_answer(Path(args.audio), ref, args.json)
    else:
        answer = args.answer if args.answer is not None else _read_text(Path(args.answer_file))
    grade = grader.grade(ref.prompt, answer, args.brain)
    print(grade.model_dump_json() if args.json else _grade_text(shown_grade(grade, False), args.verbose))
    return 0


def _spoken_answer(path: Path, ref: PromptRef, as_json: bool) -> str:
    """The text of a recorded answer to `ref`, heard with its terms as the hint; its transcription and delivery
    are printed first (a JSON line with --json)."""
    from interviewer.speech.hints import vocabulary
    from interviewer.speech.recognition import transcribe

    spoken = transcribe(path, max_audio_s=_settings().max_audio_s, hint=vocabulary(ref))
    print(spoken.model_dump_json() if as_json else "\n".join(["You said:", *spoken.lines(), ""]), flush=True)
    return spoken.text


def cmd_transcribe(args: argparse.Namespace) -> int:
    """A recorded answer as text, with its length, the real-time factor and the delivery figures; with
    --prompt-id, the prompt's terms and wording are the recogniser's hint."""
    from interviewer.curriculum.corpus import load_corpus
    from interviewer.speech.hints import Hint, vocabulary
    from interviewer.speech.recognition import transcribe

    hint = vocabulary(load_corpus(_settings().corpus_dir).prompt(args.prompt_id)) if args.prompt_id else Hint()
    spoken = transcribe(Path(args.file), max_audio_s=_settings().max_audio_s, hint=hint)
    print(spoken.model_dump_json(indent=2) if args.json else "\n".join(spoken.lines()))
    return 0


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InterviewerError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InterviewerError(f"{path} is not UTF-8 text.") from None


def _grade_batch(grader: Any, path: Path, brain: str | None) -> int:
    """One JSON grade per input line, in order; a bad line gets an error object, not a crash."""
    failures = 0
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or "answer" not in item:
                raise InterviewerError("each line needs an object with `answer` and `prompt_id` or `prompt`")
            if "prompt_id" in item:
                ref = grader.corpus.prompt(str(item["prompt_id"]))
            elif "prompt" in item:
                ref = grader.corpus.prompt_by_text(str(item["prompt"]))
            else:
                raise InterviewerError("each line needs `prompt_id` or `prompt`")
            print(grader.grade(ref.prompt, str(item["answer"]), brain).model_dump_json(), flush=True)
        except (InterviewerError, json.JSONDecodeError) as exc:
            failures += 1
            print(json.dumps({"line": number, "error": str(exc).splitlines()[0]}), flush=True)
    return 1 if failures else 0


# -- interviews ---------------------------------------------------------------------------------------


NOT_UTF8 = "! That answer is not UTF-8 text; nothing was graded. Type it again."


def _answers(stream: BinaryIO, prompt: Callable[[], None]) -> Iterator[str | None]:
    """Answers typed or piped, one per line; None at end of input.

    Each line is read as bytes and decoded as UTF-8. A line that is not UTF-8 text is neither graded nor
    stored: one line on stderr says so and the same question waits for the next line.
    """
    while True:
        prompt()
        line = stream.readline()
        if not line:
            yield None
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            print(NOT_UTF8, file=sys.stderr, flush=True)
            continue
        yield text.rstrip("\r\n").removeprefix("\ufeff")


def _opening(engine: Any, me: Caller, args: argparse.Namespace) -> tuple[str, Question] | None:
    """The session the terminal interview runs and its waiting question: a resumed one, or a new one of the choice
    (None: the resumed session has finished)."""
    if args.session:
        session_id = engine.views.resolve(me, args.session)
        question = engine.views.current(me, session_id)
        if question is None:
            print(f"Session {session_id} has finished. Read it with: interviewer transcript {session_id}")
            return None
        print(f"Resuming session {session_id}.")
        return session_id, question
    choices = [("day", args.day), ("topic", args.topic), ("prompt", args.prompt), ("due", args.due or None)]
    mode, target = next(((m, str(t)) for m, t in choices if t is not None), ("review", ""))
    session_id, question = engine.start(me, mode, "" if mode == "due" else target, count=args.count, brain=args.brain)
    print(f"Session {session_id}: one answer per line; /skip skips, /end finishes, /quit saves and leaves.")
    return session_id, question


def cmd_interview(args: argparse.Namespace) -> int:
    from interviewer.compose import build_engine

    engine, me = build_engine(_settings()), Caller.terminal()
    opened = _opening(engine, me, args)
    if opened is None:
        return 0
    session_id, question = opened
    interactive = sys.stdin.isatty()
    show = (lambda: print("> ", end="", flush=True)) if interactive else (lambda: None)
    _print_question(question)
    for raw in _answers(sys.stdin.buffer, show):
        if raw is None or raw.strip() == "/quit":
            print(f"\nSaved. Resume with: interviewer interview --session {session_id}")
            return 0
        command = raw.strip()
        try:
            if command in {"", "/skip"}:
                outcome = engine.skip(me, session_id)
                print("(skipped)")
            elif command == "/end":
                outcome = engine.end(me, session_id)
            else:
                outcome = engine.submit(me, session_id, raw.replace("\\n", "\n"))
        except InterviewerError as exc:
            print(f"! {exc}", file=sys.stderr)
            continue
        if outcome.shown is not None and not args.hide_grades:
            print(_grade_text(outcome.shown, args.verbose))
        if outcome.next is None:
            break
        _print_question(outcome.next)
    from interviewer.interview.report import overall_line

    overall = overall_line(engine.views.transcript(me, session_id).overall)
    print(f"\nInterview finished. {overall}. Transcript: interviewer transcript {session_id}")
    return 0


def _print_question(question: Question) -> None:
    label = f"Question {question.number} of {question.of}" if question.kind == "question" else "Follow-up"
    print(f"\n{label}: {question.text}")


def _listed_whole(rows: list[dict[str, Any]], as_json: bool, empty: str) -> bool:
    """A listing printed whole already: as JSON, or as the line that says it is empty."""
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(empty)
    return as_json or not rows


def cmd_sessions(args: argparse.Namespace) -> int:
    from interviewer.compose import build_engine

    rows = build_engine(_settings(), progress=False).views.sessions(Caller(args.owner, prefixes=True, limited=False))
    if _listed_whole(
        [r.as_dict() for r in rows], args.json, "No sessions yet. Start one with: interviewer interview --day 58"
    ):
        return 0
    print(f"{'id':<14}{'started':<27}{'status':<10}{'score':<7}{'answered':<10}label")
    for r in rows:
        score = "-" if r.score is None else f"{r.score:.2f}"
        print(f"{r.id:<14}{r.created_at:<27}{r.status:<10}{score:<7}{r.answered:<10}{r.label}")
    return 0


def cmd_due(args: argparse.Namespace) -> int:
    from interviewer import config
    from interviewer.compose import build_engine

    engine = build_engine(_settings(), progress=False)
    rows = engine.views.due(Caller(args.owner, prefixes=True, limited=False))
    if _listed_whole(
        [r.model_dump() for r in rows], args.json, "Nothing is scheduled yet: a question comes back once answered."
    ):
        return 0
    today = config.now().date()
    print(f"{'due':<12}{'':<5}{'last':<6}{'best':<6}{'tries':<7}prompt")
    for r in rows:
        marker = "now" if r.due_by(today) else ""
        print(f"{r.due[:10]:<12}{marker:<5}{r.last_score:<6}{r.best_score:<6}{r.attempts:<7}{r.prompt_id}")
    due_now = sum(1 for r in rows if r.due_by(today))
    if due_now:
        print(f"\n{due_now} due today. Practise them with: interviewer interview --due")
    else:
        print(f"\n0 due today; the next comes due on {min(r.due for r in rows)[:10]}.")
    return 0


def cmd_transcript(args: argparse.Namespace) -> int:
    from interviewer.compose import build_engine
    from interviewer.interview.report import to_markdown

    data = build_engine(_settings(), progress=False).views.transcript(Caller.terminal(), args.session)
    text = data.model_dump_json(indent=2) if args.format == "json" else to_markdown(data)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise InterviewerError(f"Cannot write {args.output}: {exc.strerror}.") from None
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """Delete a user's interviews (or one session): checkpoints, results and downloads."""
    from interviewer.compose import build_engine

    engine = build_engine(_settings(), progress=False)
    done = engine.forget(owner=args.owner, session_id=args.session)
    print(done.summary())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the configured session database's tables up to date (INTERVIEWER_DATABASE_URL, else SQLite)."""
    from interviewer.storage import open_storage

    storage = open_storage(_settings())
    storage.close()
    print("\n".join(storage.migrated.lines()))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up the configured session store (SQLite file or PostgreSQL database) to one file, mode 0600."""
    from interviewer.storage.backup import backup

    return _on_store("Backing up", lambda settings: backup(settings, Path(args.dest), force=args.force).lines())


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into the configured session store (refused over existing sessions without --force)."""
    from interviewer.storage.backup import restore

    source = Path(args.src)
    return _on_store(f"Restoring {source} into", lambda settings: restore(settings, source, force=args.force).lines())


def _on_store(doing: str, act: Callable[[Settings], list[str]]) -> int:
    """Say which session store the settings name, act on it, and print what was done."""
    from interviewer.storage.backup import Store

    settings = _settings()
    store = Store.of(settings)
    print(f"{doing} the {store.kind} session store {store.where} ...", flush=True)
    print("\n".join(act(settings)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.what == "asag":
        return _eval_asag(args)
    if args.file:
        raise InterviewerError("`interviewer eval` takes no file; did you mean `interviewer eval asag FILE`?")
    from interviewer.evals.gate import check_thresholds, goals
    from interviewer.evals.render import cases_markdown, report_json, write_reports
    from interviewer.evals.run import evaluate_cases
    from interviewer.grading.grader import Grader

    settings = _settings()
    grader = Grader(settings)
    cases_dir = Path(args.cases) if args.cases else settings.cases_dir
    report = evaluate_cases(grader, cases_dir, args.brain or settings.brain, progress=not args.json)
    markdown = cases_markdown(report, goals(report.model_dump(), settings.thresholds_path))
    print(report_json(report) if args.json else markdown)
    if not args.check:  # the gate only measures; reports are written by a plain run
        out_dir = Path(args.reports) if args.reports else settings.reports_dir
        paths = write_reports(report, out_dir, f"eval-{report.brain}", markdown)
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    else:
        failures = check_thresholds(report, settings.thresholds_path)
        for failure in failures:
            print(f"eval gate: {failure}", file=sys.stderr)
        if failures:
            return 1
        print(f"all figures meet {settings.thresholds_path.name} and no case copies its rubric", file=sys.stderr)
    return 0


def _eval_asag(args: argparse.Namespace) -> int:
    from interviewer.evals import asag
    from interviewer.evals.render import asag_markdown, write_reports
    from interviewer.grading.rubric import RubricBrain

    if not args.file:
        raise InterviewerError("Give the JSON Lines file: interviewer eval asag FILE.jsonl")
    path = Path(args.file)
    report = asag.evaluate(path, RubricBrain(read_every_point=True), only_split=args.split, progress=not args.json)
    stem = f"asag-{path.stem}" + (f"-{args.split}" if args.split else "")
    markdown = asag_markdown(report)
    write_reports(report, Path(args.reports) if args.reports else _settings().reports_dir, stem, markdown)
    print(json.dumps(report.model_dump()["splits"], indent=2) if args.json else markdown)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from interviewer.grading.llm import diagnose

    settings = _settings().llm
    if not settings.configured:
        print("No model configured (OPENAI_BASE_URL / OPENAI_API_KEY): the offline rubric brain grades every answer.")
        return 0
    checks = diagnose(settings)
    for check in checks:
        print(f"{'ok ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if all(c.ok for c in checks) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from interviewer.perf.bench import chosen_runs, run_bench

    reports = Path(args.reports) if args.reports else None
    if args.speech:
        from interviewer.perf.speech_bench import run_speech_bench

        models = tuple(m.strip() for m in args.speech_models.split(",") if m.strip())
        return run_speech_bench(reports or _settings().reports_dir, models)
    runs = chosen_runs(args.quick, args.turns, reports)
    return run_bench(_settings(), as_json=args.json, runs=runs, reports=reports)


# -- web logins ---------------------------------------------------------------------------------------


def _password_file(args: argparse.Namespace) -> Path:
    """`--file F`, else INTERVIEWER_AUTH_FILE; with neither, an error that says how to choose one."""
    if args.file:
        return Path(args.file).expanduser()
    chosen = _settings().auth_file
    if chosen is None:
        raise InterviewerError("Which password file? Give --file F or set INTERVIEWER_AUTH_FILE.")
    return chosen


def _new_password() -> str:
    """Typed twice, not echoed, on a terminal; one line of standard input when piped. Never printed."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise InterviewerError("The two passwords differ; nothing was changed.")
        return password
    try:
        return sys.stdin.buffer.readline().decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InterviewerError("The password is not UTF-8 text; nothing was changed.") from None


def cmd_user_add(args: argparse.Namespace) -> int:
    """Add a web login, or give an existing one a new password; the file is created with mode 0600."""
    from interviewer.web.auth import NAME_RULE, set_user, valid_name

    path = _password_file(args)
    if not valid_name(args.name):
        raise InterviewerError(f"User names are {NAME_RULE}; got {args.name!r}.")
    updated = set_user(path, args.name, _new_password())
    print(f"{'updated' if updated else 'added'} {args.name} in {path}")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    from interviewer.web.auth import remove_user

    path = _password_file(args)
    remove_user(path, args.name)
    print(f"removed {args.name} from {path}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """The user names in the password file, one per line (never a hash)."""
    from interviewer.web.auth import read_password_file

    path = _password_file(args)
    names = list(read_password_file(path))
    for name in names:
        print(name)
    if not names:
        print(f"No users in {path}. Add one with: interviewer user add NAME", file=sys.stderr)
    return 0


# -- a team deployment on this machine ------------------------------------------------------------------


def cmd_cluster(args: argparse.Namespace) -> int:
    """Start, stop or show the one-machine cluster (PostgreSQL, Chroma server, replicas, HAProxy)."""
    import os

    from interviewer.team.cluster import DEFAULT_PORT, Cluster

    cluster = Cluster(Path(args.dir) if args.dir else _settings().data_dir / "cluster")
    if args.action == "up":
        port = int(args.port or os.environ.get("CLUSTER_PORT") or DEFAULT_PORT)
        cluster.up(port)
        print(f"The cluster is up: http://127.0.0.1:{port}/ (its parts are in {cluster.folder}).")
    if args.action == "down":
        print("\n".join(cluster.down()) or f"No cluster in {cluster.folder}.")
    if args.action in ("up", "status"):
        rows = cluster.status()
        print(f"{'part':<10} {'pid':>8}  {'address':<21} state")
        print("\n".join(row.line() for row in rows) if rows else f"No cluster in {cluster.folder}.")
        return 0 if rows and all(row.up for row in rows) else 1
    return 0


# -- parser -------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Every command and option, declared in groups."""
    parser = argparse.ArgumentParser(prog="interviewer", description="Offline mock interviews for MLOps roles.")
    sub = parser.add_subparsers(dest="command", required=True)
    for declare in (
        _curriculum_commands,
        _grading_commands,
        _session_commands,
        _store_commands,
        _measuring_commands,
        _user_commands,
    ):
        declare(sub)
    cluster = sub.add_parser("cluster", help="a team deployment here: PostgreSQL, Chroma, 2 replicas, HAProxy")
    cluster.add_argument("action", choices=["up", "down", "status"])
    cluster.add_argument("--dir", help="the cluster's folder (default .interviewer/cluster in the data folder)")
    cluster.add_argument("--port", help="HAProxy's port on 127.0.0.1 (default CLUSTER_PORT or 7860)")
    cluster.set_defaults(func=cmd_cluster)
    return parser


def _curriculum_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    corpus = sub.add_parser("corpus", help="check the curriculum files")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True)
    corpus_sub.add_parser("validate", help="check schema and cross-references").set_defaults(func=cmd_corpus_validate)

    index = sub.add_parser("index", help="embed the curriculum into Chroma (only what changed)")
    index.add_argument("--rebuild", action="store_true", help="drop the index and embed everything again")
    index.set_defaults(func=cmd_index)

    prompts = sub.add_parser("prompts", help="list prompt ids")
    prompts.add_argument("--day", type=int)
    prompts.add_argument("--topic")
    prompts.set_defaults(func=cmd_prompts)


def _grading_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    grade = sub.add_parser("grade", help="grade one answer, or a JSON Lines batch")
    grade.add_argument("--prompt-id")
    grade.add_argument("--prompt", help="the exact text of a prompt")
    grade.add_argument("--answer")
    grade.add_argument("--answer-file")
    grade.add_argument("--audio", help="a recorded answer (WAV, MP3, OGG, WebM...), transcribed offline, then graded")
    grade.add_argument("--batch", help="JSON Lines: {prompt_id|prompt, answer} per line")
    grade.add_argument("--brain")
    grade.add_argument("--json", action="store_true")
    grade.add_argument("--verbose", action="store_true", help="every key point in full, and what to study")
    grade.set_defaults(func=cmd_grade)

    transcribe = sub.add_parser("transcribe", help="a recorded answer as text, with pace, filler words and pauses")
    transcribe.add_argument("file", help="the recording (WAV, MP3, OGG, WebM, M4A or FLAC)")
    transcribe.add_argument("--prompt-id", help="the prompt answered: its terms help the recogniser hear them")
    transcribe.add_argument("--json", action="store_true")
    transcribe.set_defaults(func=cmd_transcribe)


def _session_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    interview = sub.add_parser("interview", help="a mock interview in the terminal")
    which = interview.add_mutually_exclusive_group(required=True)
    which.add_argument("--day", type=int)
    which.add_argument("--topic")
    which.add_argument("--review", action="store_true", help="your weakest prompts so far")
    which.add_argument("--prompt", help="one prompt by id (`interviewer prompts` lists them), e.g. to answer it again")
    which.add_argument("--due", action="store_true", help="the questions due today (`interviewer due`), weakest first")
    which.add_argument("--session", help="resume a session by id")
    interview.add_argument("--count", type=int, help="how many prompts")
    interview.add_argument("--brain")
    interview.add_argument("--hide-grades", action="store_true", help="no grades until the end, as in a real interview")
    interview.add_argument("--verbose", action="store_true", help="every key point of each grade in full")
    interview.set_defaults(func=cmd_interview)

    due = sub.add_parser(
        "due", help="when each question you have answered comes back (spaced repetition), soonest first"
    )
    due.add_argument("--json", action="store_true")
    due.add_argument("--owner", default="", help="a signed-in user's schedule (default: the local user's)")
    due.set_defaults(func=cmd_due)

    sessions = sub.add_parser("sessions", help="past sessions, newest first")
    sessions.add_argument("--json", action="store_true")
    sessions.add_argument("--owner", default="", help="a signed-in user's sessions (default: the local user's)")
    sessions.set_defaults(func=cmd_sessions)

    transcript = sub.add_parser("transcript", help="the graded transcript of a session")
    transcript.add_argument("session")
    transcript.add_argument("--format", choices=["md", "json"], default="md")
    transcript.add_argument("-o", "--output")
    transcript.set_defaults(func=cmd_transcript)

    forget = sub.add_parser("forget", help="delete a user's sessions, or one session, for good")
    forget.add_argument("--owner", help="the user name ('' is the local user)")
    forget.add_argument("--session", help="one session's full id")
    forget.set_defaults(func=cmd_forget)

    migrate = sub.add_parser("migrate", help="create or update the session database's tables, and say what changed")
    migrate.set_defaults(func=cmd_migrate)


def _store_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    store = "the session store (INTERVIEWER_DATABASE_URL, else the SQLite file in the data folder)"
    backup = sub.add_parser("backup", help=f"back up {store} to one file, consistent while the app runs")
    backup.add_argument("dest", help="the backup file to write (mode 0600)")
    backup.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help=f"restore a backup into {store}, then migrate it")
    restore.add_argument("src", help="a file written by `interviewer backup` for the same kind of store")
    restore.add_argument("--force", action="store_true", help="replace the sessions the store holds")
    restore.set_defaults(func=cmd_restore)


def _measuring_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = sub.add_parser("eval", help="measure a brain against gold grades (or: eval asag FILE.jsonl)")
    evaluate.add_argument("what", nargs="?", choices=["cases", "asag"], default="cases")
    evaluate.add_argument("file", nargs="?", help="with asag: a JSON Lines file of graded short answers")
    evaluate.add_argument("--brain")
    evaluate.add_argument("--cases", help="folder of labelled cases (default evals/cases)")
    evaluate.add_argument("--reports", help="folder to write the reports to (default evals/reports)")
    evaluate.add_argument("--split", help="with asag: report this split only (the threshold still comes from train)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a figure misses evals/thresholds.yaml or a case copies its rubric",
    )
    evaluate.set_defaults(func=cmd_eval)

    sub.add_parser("doctor", help="check the configured LLM endpoint").set_defaults(func=cmd_doctor)

    bench = sub.add_parser("bench", help="measure speed and memory; writes evals/reports/")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--turns", type=int, help="turns to time (default 200; 5 with --quick)")
    bench.add_argument(
        "--quick", action="store_true", help="run each measure once or twice: checks that bench works, not figures"
    )
    bench.add_argument("--reports", help="folder to write the reports to (default evals/reports)")
    bench.add_argument(
        "--speech", action="store_true", help="only the recognisers on the domain speech set: writes speech.md/json"
    )
    bench.add_argument("--speech-models", default="tiny.en,base", help="with --speech: which (default tiny.en,base)")
    bench.set_defaults(func=cmd_bench)


def _user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="web logins in the password file (INTERVIEWER_AUTH_FILE)")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add a login or change its password (asked for, never an argument)")
    add.add_argument("name", help="1-64 letters, digits or . _ @ -")
    add.set_defaults(func=cmd_user_add)
    remove = user_sub.add_parser("remove", help="remove a login")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_user_remove)
    listing = user_sub.add_parser("list", help="the user names, one per line")
    listing.set_defaults(func=cmd_user_list)
    for command in (add, remove, listing):
        command.add_argument("--file", help="the password file (default INTERVIEWER_AUTH_FILE)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\nInterrupted; everything answered so far is saved.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
