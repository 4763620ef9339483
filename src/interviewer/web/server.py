"""Launching the browser app: address, login, safe defaults. `app.py` calls `serve`.

The app binds 127.0.0.1 unless told otherwise. On any other address it refuses to start without a login
(INTERVIEWER_AUTH and/or INTERVIEWER_AUTH_FILE) unless `--public` says so, since anyone who reaches the
port could otherwise read and change every interview. It serves files only from the downloads folder,
keeps no run history in the browser, and sends no analytics.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interviewer.config import DEFAULT_HOST as DEFAULT_HOST
from interviewer.config import DEFAULT_PORT as DEFAULT_PORT
from interviewer.config import Settings
from interviewer.config import parse_host as parse_host
from interviewer.config import parse_port as parse_port
from interviewer.errors import InterviewerError
from interviewer.storage import exports
from interviewer.web.auth import AUTH_FILE_VAR, AUTH_VAR, Credentials, FailedSignIns, credentials
from interviewer.web.heap import bound_heap, keep_giving_back

if TYPE_CHECKING:
    from interviewer.interview.engine import Engine


def web_settings(host: str | None = None, port: str | None = None) -> Settings:
    """The settings, with `--host`/`--port` (when given) in place of INTERVIEWER_HOST/INTERVIEWER_PORT, which are
    then not read."""
    given: dict[str, Any] = {}
    if host is not None:
        given["host"] = parse_host(host, "--host")
    if port is not None:
        given["port"] = parse_port(port, "--port")
    return Settings(**given)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, *, login: bool, public: bool) -> None:
    """Refuse to serve on a non-loopback address with no login, unless `public` says that is wanted."""
    if login or public or is_loopback(host):
        return
    raise InterviewerError(
        f"Refusing to serve on {host} without a login: anyone who can reach the port could read and change "
        f"every interview. Set {AUTH_VAR} or {AUTH_FILE_VAR} (see `interviewer user add`), "
        "or pass --public if that is really what you want."
    )


def serve_downloads_from(folder: Path) -> Path:
    """Make the downloads folder (mode 0700) the only folder Gradio serves files from.

    The one place the program writes the environment, called only by `launch` when the web app starts:
    Gradio takes its served-files folder from no argument, only from GRADIO_TEMP_DIR, which it reads when each
    component is built and when a file is checked, so this must run before the Blocks app is built.
    """
    folder = folder.expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as exc:
        raise InterviewerError(f"Cannot use the downloads folder {folder}: {exc.strerror or exc}.") from None
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


MAX_UPLOAD_MB = 100
"""The largest recording the page takes (a 5-minute answer recorded as 48 kHz stereo WAV is about 58 MB)."""


def trust_proxies(proxies: tuple[str, ...]) -> None:
    """Believe X-Forwarded-For only from `proxies` (INTERVIEWER_TRUSTED_PROXIES).

    Gradio serves through uvicorn, whose proxy-headers middleware takes the client's address from
    X-Forwarded-For when the connection comes from FORWARDED_ALLOW_IPS, which is loopback by default: any local
    process could then name the address its failed sign-ins count under. Set before the server starts."""
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(proxies)  # "" trusts no one


PAGE_STATES = 500
"""The page loads whose state a server keeps, the most recently used (Gradio's `state_session_capacity`). Gradio
keeps, for every page load, a copy of the page's configuration, about 0.23 MB for this app's page, and by default
for its 10,000 most recent: a server's memory grew with every visit and every reload, towards 2.3 GB. A page
whose state was let go keeps working: its next event starts the state afresh, and what the page sends with the
event (the answer box, the session id) comes from the browser. Only a spoken answer's delivery, held until the
answer is sent, goes with it; the words stay in the box."""


def launch_options(
    login: Credentials | None, downloads: Path, sign_ins: FailedSignIns, secret_file: Path | None = None
) -> dict[str, Any]:
    """Gradio's launch settings: the login check, the sharing guard, and every leak turned off.

    With `secret_file` (INTERVIEWER_SECRET_FILE, shared by replicas) a sign-in holds on every replica; the
    failed sign-ins are counted in `sign_ins` (the session database's, shared by replicas too)."""
    from starlette.middleware import Middleware

    from interviewer.web.auth import SharingGuard
    from interviewer.web.shared_login import SharedLogin

    shared = SharedLogin.from_file(secret_file) if secret_file else None
    guard = Middleware(SharingGuard, downloads_dir=downloads, sign_ins=sign_ins, shared=shared)
    return {
        "share": False,
        "auth": login.verify if login else None,  # an async def: Gradio awaits it
        "auth_message": "Sign in to your mock interviews.",
        "app_kwargs": {"middleware": [guard]},
        "state_session_capacity": PAGE_STATES,
        "max_file_size": f"{MAX_UPLOAD_MB}mb",  # a spoken answer; the only upload the page takes
        "show_error": False,
        "run_history": False,  # a shared computer must not keep a transcript in the browser's storage
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,  # no Node proxy in front: the middleware sees each client's own address
        "num_workers": 0,  # no static-file worker processes, which would serve files around the middleware
        "pwa": False,
        "quiet": False,
        "footer_links": [],
    }


def launch(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    block: bool = True,
    public: bool = False,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> Any:
    """Check the address and the login, build the engine (unless given one) and the app, and serve.

    The login comes from the engine's settings, else from `settings`, else from the environment. Analytics
    are off by the Blocks argument (`handlers.build_app`). Returns the Blocks app; with `block=False` it serves in
    the background until `demo.close()`.
    """
    if engine is not None:
        settings = engine.settings
    elif settings is None:
        settings = Settings()
    login = credentials(settings.auth, settings.auth_file)
    check_exposure(host, login=login is not None, public=public)
    if login is None and not is_loopback(host):
        print(
            f"warning: serving on {host} with no login (--public): anyone who can reach it can read and change "
            "every interview.",
            file=sys.stderr,
        )
    if engine is None:
        from interviewer.compose import build_engine

        engine = build_engine(settings)
    engine.prepare()
    downloads = serve_downloads_from(engine.settings.downloads_dir)
    exports.clear(downloads)  # no download link of an earlier run stays valid
    from interviewer.web.handlers import CSS, THEME, build_app

    sign_ins = FailedSignIns(engine.storage.sessions.tallies())
    trust_proxies(engine.settings.trusted_proxies)
    demo = build_app(engine, engine.notice)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        theme=THEME,
        css=CSS,
        **launch_options(login, downloads, sign_ins, engine.settings.secret_file),
    )
    return demo


def serve(settings: Settings, public: bool = False) -> int:
    """Serve on `settings.host`:`settings.port` until stopped; a problem the user can fix is one line
    `error: ...` on stderr and exit code 2."""
    bound_heap()  # before any handler thread or encoder allocates
    keep_giving_back()  # the free memory the turns leave inside the heap, returned every second
    try:
        launch(settings.host, settings.port, public=public, settings=settings)
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
