"""Launching the browser app: address, login, safe defaults. `app.py` calls `serve`.

The app binds 127.0.0.1 unless told otherwise. On any other address it refuses to start without a login
(INTERVIEWER_AUTH and/or INTERVIEWER_AUTH_FILE) unless `--public` says so, since anyone who reaches the
port could otherwise read and change every interview. It serves files only from the downloads folder,
keeps no run history in the browser, and sends no analytics.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interviewer import exports
from interviewer.auth import AUTH_FILE_VAR, AUTH_VAR, Credentials, load_credentials
from interviewer.errors import InterviewerError

if TYPE_CHECKING:
    from interviewer.engine import Engine

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def parse_host(raw: str, source: str) -> str:
    """A host name or IP address to bind; anything else is one error naming `source`."""
    host = raw.strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        if _HOSTNAME.fullmatch(host):
            return host
    raise InterviewerError(f"{source} must be a host name or IP address (such as 127.0.0.1 or 0.0.0.0), got {raw!r}.")


def parse_port(raw: str, source: str) -> int:
    """A TCP port from 0 (any free port) to 65535; anything else is one error naming `source`."""
    try:
        port = int(raw.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise InterviewerError(f"{source} must be a port number from 0 to 65535, got {raw!r}.")
    return port


def address(host: str | None, port: str | None, environ: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """The address to serve on: `--host`/`--port` when given, else INTERVIEWER_HOST/INTERVIEWER_PORT (a blank
    variable counts as unset), else 127.0.0.1:7860."""
    if host is not None:
        chosen_host = parse_host(host, "--host")
    else:
        raw = environ.get("INTERVIEWER_HOST", "")
        chosen_host = parse_host(raw, "INTERVIEWER_HOST") if raw.strip() else DEFAULT_HOST
    if port is not None:
        return chosen_host, parse_port(port, "--port")
    raw = environ.get("INTERVIEWER_PORT", "")
    return chosen_host, parse_port(raw, "INTERVIEWER_PORT") if raw.strip() else DEFAULT_PORT


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

    Gradio reads its served-files folder from GRADIO_TEMP_DIR when each component is built and when a file
    is checked, so this must run before the Blocks app is built.
    """
    folder = folder.expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as exc:
        raise InterviewerError(f"Cannot use the downloads folder {folder}: {exc.strerror or exc}.") from None
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


def launch_options(credentials: Credentials | None, downloads: Path) -> dict[str, Any]:
    """Gradio's launch settings: the login check, the sharing guard, and every leak turned off."""
    from starlette.middleware import Middleware

    from interviewer.auth import SharingGuard

    return {
        "share": False,
        "auth": credentials.verify if credentials else None,  # an async def: Gradio awaits it
        "auth_message": "Sign in to your mock interviews.",
        "app_kwargs": {"middleware": [Middleware(SharingGuard, downloads_dir=downloads)]},
        "max_file_size": "1mb",
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
) -> Any:
    """Check the address and the login, build the engine (unless given one) and the app, and serve.

    Returns the Blocks app; with `block=False` it serves in the background until `demo.close()`.
    """
    credentials = load_credentials(os.environ)
    check_exposure(host, login=credentials is not None, public=public)
    if credentials is None and not is_loopback(host):
        print(
            f"warning: serving on {host} with no login (--public): anyone who can reach it can read and change "
            "every interview.",
            file=sys.stderr,
        )
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    if engine is None:
        from interviewer.engine import Engine

        engine = Engine()
    engine.grader.index.collection()  # build a missing index now, not on the first answer
    downloads = serve_downloads_from(engine.settings.downloads_dir)
    exports.clear(downloads)  # no download link of an earlier run stays valid
    from interviewer.ui import CSS, THEME, build_app

    demo = build_app(engine, engine.grader.index.notice)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        theme=THEME,
        css=CSS,
        **launch_options(credentials, downloads),
    )
    return demo


def serve(host: str, port: int, public: bool = False) -> int:
    """Serve until stopped; a problem the user can fix is one line `error: ...` on stderr and exit code 2."""
    try:
        launch(host, port, public=public)
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
