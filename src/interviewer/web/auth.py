"""Who may sign in to a shared web app, how often they may guess, and which files the app will serve.

A login comes from INTERVIEWER_AUTH ("user:password[,...]", clear passwords) and/or INTERVIEWER_AUTH_FILE
(lines `name:<argon2id hash>`, written by `interviewer user add`). Passwords are never printed, logged or
stored in clear by this module, and a hash is never printed. `SharingGuard` is the ASGI middleware in front
of the Gradio app: it locks out repeated failed sign-ins per user and per address (counted in the session
database, so every replica and restart shares them), and serves files only from the downloads folder; with a
secret shared by replicas (`shared_login`), any replica accepts a sign-in.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from interviewer.config import AUTH_FILE_VAR as AUTH_FILE_VAR
from interviewer.config import AUTH_VAR as AUTH_VAR
from interviewer.errors import InterviewerError, StorageError
from interviewer.storage.tallies import Tallies
from interviewer.web.shared_login import SharedLogin

NAME_RULE = "1-64 letters, digits or . _ @ -"
MIN_PASSWORD_CHARS = 8
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_HOW_TO_ADD = "make entries with `interviewer user add NAME`"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def valid_name(name: str) -> bool:
    """A user name is 1-64 of letters, digits, `.`, `_`, `@` and `-`."""
    return _NAME.fullmatch(name) is not None


def check_new_password(password: str) -> None:
    """A new password has at least MIN_PASSWORD_CHARS characters; the message never repeats it."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InterviewerError(f"The password must have at least {MIN_PASSWORD_CHARS} characters.")


def hash_password(password: str) -> str:
    """An argon2id hash with argon2-cffi's default (RFC 9106) cost, salted per call."""
    return PasswordHasher().hash(password)


# -- the password file --------------------------------------------------------------------------------


def parse_password_file(text: str, label: str) -> dict[str, str]:
    """`name:<argon2id hash>` per line (blank lines and `#` comments allowed), in file order.

    A bad line is one error naming `label` and the line number; the line's content is never shown, since a
    mistaken line may hold a clear password.
    """
    entries = [(f"{label} line {n}", line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    entries = [(where, entry) for where, entry in entries if entry and not entry.startswith("#")]
    return _parse_logins(
        entries, f"name:<argon2id hash>; {_HOW_TO_ADD}", _is_argon2id, f"not an argon2id hash; {_HOW_TO_ADD}"
    )


def _parse_logins(
    entries: list[tuple[str, str]], shape: str, value_ok: Callable[[str], bool], value_problem: str
) -> dict[str, str]:
    """`name:value` entries, each with where it stands (for the error); a name may appear once."""
    users: dict[str, str] = {}
    for where, entry in entries:
        name, sep, value = entry.partition(":")
        if not sep or not name or not value:
            raise InterviewerError(f"{where}: expected {shape}.")
        if not valid_name(name):
            raise InterviewerError(f"{where}: user names are {NAME_RULE}.")
        if not value_ok(value):
            raise InterviewerError(f"{where}: {value_problem}.")
        if name in users:
            raise InterviewerError(f"{where}: user {name!r} is listed twice.")
        users[name] = value
    return users


def _is_argon2id(hashed: str) -> bool:
    try:
        return extract_parameters(hashed).type is Type.ID
    except (InvalidHashError, ValueError):
        return False


def read_password_file(path: Path, variable: str | None = None) -> dict[str, str]:
    """The users of a password file; a missing, unreadable or malformed file is one error naming `variable`
    (when the file came from one) and the line number."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if variable:
            raise InterviewerError(f"{variable}: cannot read {path}: {reason}.") from None
        raise InterviewerError(f"Cannot read {path}: {reason}.") from None
    label = f"{variable} ({path})" if variable else str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InterviewerError(f"{label} is not UTF-8 text.") from None
    return parse_password_file(text, label)


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """Replace the file at once (a reader sees the old or the new file), readable by its owner only (0600)."""
    body = "".join(f"{name}:{hashed}\n" for name, hashed in users.items())
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InterviewerError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def set_user(path: Path, name: str, password: str) -> bool:
    """Add `name` with a new hash of `password`, or replace its hash; True when the name was already there."""
    if not valid_name(name):
        raise InterviewerError(f"User names are {NAME_RULE}; got {name!r}.")
    check_new_password(password)
    users = read_password_file(path) if path.exists() else {}
    existed = name in users
    users[name] = hash_password(password)
    write_password_file(path, users)
    return existed


def remove_user(path: Path, name: str) -> None:
    """Remove `name` from the file; an unknown name is an error."""
    users = read_password_file(path)
    if name not in users:
        raise InterviewerError(f"No user {name!r} in {path}.")
    del users[name]
    write_password_file(path, users)


# -- checking a sign-in -------------------------------------------------------------------------------


def parse_clear_logins(raw: str) -> dict[str, str]:
    """INTERVIEWER_AUTH="user:password[,user2:password2]"; an error names the entry, never its password."""
    entries = [(f"{AUTH_VAR} entry {n}", item.strip()) for n, item in enumerate(raw.split(","), 1)]
    return _parse_logins(entries, "user:password[,user2:password2]", bool, "the password is empty")


_DECOY_PASSWORD = "not the password of anyone"


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class Credentials:
    """The accounts that may sign in: clear passwords (INTERVIEWER_AUTH) and argon2id hashes (the file).

    `verify` is what Gradio's `/login` calls: an `async def`, so Gradio awaits it, and the slow argon2 check
    runs in a worker thread (at most four at once, since each takes 64 MiB) instead of on the event loop.
    """

    def __init__(self, clear: Mapping[str, str], hashed: Mapping[str, str]) -> None:
        both = sorted(set(clear) & set(hashed))
        if both:
            raise InterviewerError(f"User {both[0]!r} is in both {AUTH_VAR} and {AUTH_FILE_VAR}; keep one.")
        self.clear = dict(clear)
        self.hashed = dict(hashed)
        self._hasher = PasswordHasher()
        # A hash as costly to check as the users' own, checked for names nobody has.
        first = next(iter(self.hashed.values()), None)
        self._decoy = PasswordHasher.from_parameters(extract_parameters(first)).hash(_DECOY_PASSWORD) if first else ""
        self._limiter: anyio.CapacityLimiter | None = None

    def check(self, username: str, password: str) -> bool:
        """True when the password is right; an unknown name costs as long as a known one."""
        if username in self.clear:
            return hmac.compare_digest(_bytes(password), _bytes(self.clear[username]))
        stored = self.hashed.get(username)
        if stored is None:
            self._spend_time(password)
            return False
        return self._matches(stored, password)

    def _matches(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError, UnicodeError):
            return False

    def _spend_time(self, password: str) -> None:
        """Do the work of a real check for a name nobody has, so timing does not tell which names exist."""
        if self._decoy:
            self._matches(self._decoy, password)
        else:
            hmac.compare_digest(_bytes(password), _bytes(_DECOY_PASSWORD))

    async def verify(self, username: str, password: str) -> bool:
        """The login check Gradio awaits: `check` in a worker thread."""
        if self._limiter is None:  # made on the server's event loop, at the first sign-in
            self._limiter = anyio.CapacityLimiter(4)
        return await anyio.to_thread.run_sync(self.check, username, password, limiter=self._limiter)


def credentials(clear_logins: str, password_file: Path | None) -> Credentials | None:
    """The login from the settings `auth` (INTERVIEWER_AUTH) and `auth_file` (INTERVIEWER_AUTH_FILE), or None
    when neither is set."""
    raw = clear_logins.strip()
    if not raw and password_file is None:
        return None
    clear = parse_clear_logins(raw) if raw else {}
    hashed: dict[str, str] = {}
    if password_file is not None:
        hashed = read_password_file(password_file, AUTH_FILE_VAR)
        if not hashed:
            raise InterviewerError(
                f"{AUTH_FILE_VAR} ({password_file}) has no users; add one with `interviewer user add NAME`."
            )
    return Credentials(clear, hashed)


# -- failed sign-ins ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A sign-in in flight: counted as a failure (under `tag`) until its outcome is known."""

    user: str
    address: str
    tag: str


USERS, ADDRESSES = "sign-in-user", "sign-in-address"
"""The tallies' buckets of failed sign-ins: per user name and per client address."""


class FailedSignIns:
    """Counts failed sign-ins per user name and per client address within a sliding window, in the session
    database (`Tallies`), so the lock holds across restarts and on every replica that shares the database.

    A user with `per_user` failures, or an address with `per_address` failures, in the last `window`
    seconds is locked out until the oldest of those failures leaves the window. An attempt counts from the
    moment it starts, so a burst of parallel guesses cannot slip past the limit before the first fails.
    Times are wall-clock seconds, which the replicas' hosts agree on.
    """

    def __init__(
        self,
        tallies: Tallies,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tallies = tallies
        self.per_user, self.per_address, self.window, self.clock = per_user, per_address, window, clock

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until `user` from `address` may try again; 0 when they may now."""
        now = self.clock()
        waits = [0.0]
        for bucket, key, limit in ((USERS, user, self.per_user), (ADDRESSES, address, self.per_address)):
            times = [at for at, _ in self.tallies.since(bucket, key, now - self.window)]
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + self.window - now)
        return max(waits)

    def start(self, user: str, address: str) -> Attempt:
        """Count an attempt as failed now; settle it with `succeeded` or `cancelled` when it was not."""
        now, attempt = self.clock(), Attempt(user, address, secrets.token_hex(8))
        self.tallies.add(USERS, user, now, tag=attempt.tag)
        self.tallies.add(ADDRESSES, address, now, tag=attempt.tag)
        for bucket in (USERS, ADDRESSES):
            self.tallies.prune(bucket, self.window, now)
        return attempt

    def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the attempt stays counted for its user and its address."""

    def succeeded(self, attempt: Attempt) -> None:
        """Signed in: the user's failures are forgotten, and this attempt is not held against the address."""
        self.tallies.drop(USERS, attempt.user)
        self.tallies.take_back(attempt.tag)

    def cancelled(self, attempt: Attempt) -> None:
        """Neither right nor wrong (a malformed request): the attempt does not count."""
        self.tallies.take_back(attempt.tag)


# -- the middleware -----------------------------------------------------------------------------------

_FILE_MARKERS = ("/file=", "/proxy=", "/gradio_api/file/")
MAX_LOGIN_BODY = 64 * 1024


DOWNLOAD_NAME = re.compile(r"interview-[0-9a-f]{12}\.(md|json)")
"""The name of a transcript download (`exports.write`): the only files the web app serves."""


def _basename(target: str) -> str:
    return unquote(target).rstrip("/").rsplit("/", 1)[-1]


def file_targets(path: str) -> list[str]:
    """Every path that a request path could ask Gradio's file routes to serve (the text after each marker)."""
    targets = []
    for marker in _FILE_MARKERS:
        start = path.find(marker)
        while start != -1:
            targets.append(path[start + len(marker) :])
            start = path.find(marker, start + 1)
    return targets


def inside(folder: Path, target: str) -> bool:
    """True when `target` (as given, and URL-decoded once more) lies strictly inside `folder`.

    Both the path with `..` removed first (what Gradio opens) and the path with symlinks followed first (what
    the OS would do) must stay inside, so neither `..` nor a symlink leads out.
    """
    for candidate in {target, unquote(target)}:
        if not candidate or "\x00" in candidate:
            return False
        try:
            lexical = Path(os.path.abspath(candidate)).resolve()
            physical = (Path.cwd() / candidate).resolve()
        except (OSError, RuntimeError, ValueError):
            return False
        for resolved in (lexical, physical):
            if resolved == folder or not resolved.is_relative_to(folder):
                return False
    return True


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body (what arrived, if the client went away), or None when it exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the buffered body once, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_username(scope: Scope, body: bytes, receive: Receive) -> str | None:
    """The `username` field, parsed the way FastAPI parses Gradio's login form; None when it cannot be."""
    from starlette.requests import Request

    request = Request(scope, _replay(body, receive))
    try:
        form = await request.form(max_files=0, max_fields=16)
    except Exception:  # any parse failure: the request is refused, never passed on unchecked
        return None
    try:
        value = form.get("username")
        return value.strip() if isinstance(value, str) else ""
    finally:
        await form.close()


class SharingGuard:
    """ASGI middleware in front of the Gradio app (installed through `launch(app_kwargs={"middleware": ...})`).

    - Gradio's file routes (`/file=`, `/gradio_api/file=`, `/gradio_api/file/`, `/proxy=`) answer 404 unless
      the path is a transcript download inside the downloads folder, whether or not the visitor is signed in.
      So an upload (a spoken answer; Gradio caps its size) is never served back, to anyone.
    - A sign-in (POST to `/login`) by a locked-out user or address answers 429 without checking the password.
      Otherwise it goes on to Gradio, and its answer counts: 400 (wrong password) is a failure for the user and
      the address, 200 clears the user's failures. The counts live in the session database (`FailedSignIns`),
      shared by every replica; while it is out of reach a sign-in answers 503 rather than go uncounted.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        downloads_dir: str | Path,
        sign_ins: FailedSignIns,
        shared: SharedLogin | None = None,
    ) -> None:
        self.app = app
        self.downloads_dir = Path(downloads_dir).resolve()
        self.sign_ins = sign_ins
        self.shared = shared  # sign-ins every replica accepts (INTERVIEWER_SECRET_FILE), else Gradio's own

    def may_serve(self, path: str) -> bool:
        """False for a file route to anything but a transcript download (`exports.write`) in the downloads folder.

        Gradio keeps uploads (spoken answers) in the same folder; naming the downloads is what keeps an uploaded
        file, which could be a page with a script in it, from being served from this address."""
        targets = file_targets(path)
        return all(inside(self.downloads_dir, t) and DOWNLOAD_NAME.fullmatch(_basename(t)) for t in targets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.shared is not None and scope["type"] in ("http", "websocket"):
            self.shared.admit(scope)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if not self.may_serve(path):
            await _send_json(send, 404, {"detail": "Not Found"})
        elif scope.get("method") == "POST" and path.rstrip("/").endswith("/login"):
            await self._sign_in(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, MAX_LOGIN_BODY)
        if body is None:
            await _send_json(send, 413, {"detail": "The sign-in form is too large."})
            return
        user = await _form_username(scope, body, receive)
        if user is None:
            await _send_json(send, 400, {"detail": "The sign-in form could not be read."})
            return
        client = scope.get("client")  # behind a trusted proxy, the address it forwarded (`server.trust_proxies`)
        address = str(client[0]) if client else "unknown"
        try:
            wait = await anyio.to_thread.run_sync(self.sign_ins.retry_after, user, address)
            attempt = None if wait > 0 else await anyio.to_thread.run_sync(self.sign_ins.start, user, address)
        except StorageError:
            detail = "Signing in needs the session database, which is out of reach now; try again in a minute."
            await _send_json(send, 503, {"detail": detail}, [("retry-after", "60")])
            return
        if attempt is None:
            await self._locked_out(send, wait)
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                if self.shared is not None and status[0] == 200:
                    self.shared.sign_in(scope, message, user)
            await send(message)

        try:
            await self.app(scope, _replay(body, receive), watch)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._settle, attempt, status[0] if status else None)

    def _settle(self, attempt: Attempt, status: int | None) -> None:
        """Settle the attempt by Gradio's answer; with the database out of reach it stays counted as failed."""
        try:
            if status == 400:
                self.sign_ins.failed(attempt)
            elif status is not None and 200 <= status < 300:
                self.sign_ins.succeeded(attempt)
            else:
                self.sign_ins.cancelled(attempt)
        except StorageError:
            return

    @staticmethod
    async def _locked_out(send: Send, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        detail = f"Too many failed sign-ins for this account or address; try again in {seconds} s."
        await _send_json(send, 429, {"detail": detail}, [("retry-after", str(seconds))])
