"""Web sign-ins that every app replica behind one load balancer accepts (INTERVIEWER_SECRET_FILE).

Gradio keeps sign-ins per process: its cookie is named `access-token-<random id>` and holds a random token
known only to the process that set it. Behind a load balancer that moves a browser to another replica (when
its own fails), the browser would be signed out. With a secret shared by the replicas, the cookie's name is
derived from the secret, and the token Gradio sets at sign-in is replaced by the user name signed with it
(itsdangerous, valid for `MAX_AGE`), which any replica holding the secret accepts. The secret and the tokens
are never logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import MutableMapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, TimestampSigner

from interviewer.config import SECRET_FILE_VAR
from interviewer.errors import InterviewerError

MAX_AGE = 7 * 24 * 3600  # seconds a sign-in lasts on any replica
_COOKIE = "access-token-"
MIN_SECRET_CHARS = 16


class SharedLogin:
    """Signs and checks sign-in tokens with the replicas' shared secret, and puts them where Gradio looks."""

    def __init__(self, secret: bytes) -> None:
        self._signer = TimestampSigner(secret, salt="interviewer-web-login")
        self.cookie_id = hmac.new(secret, b"gradio-cookie-id", hashlib.sha256).hexdigest()[:32]

    @classmethod
    def from_file(cls, path: Path) -> SharedLogin:
        """The secret in `path` (INTERVIEWER_SECRET_FILE); an unreadable or short file is an error naming it."""
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise InterviewerError(f"{SECRET_FILE_VAR}: cannot read {path}: {exc.strerror or exc}.") from None
        if len(secret) < MIN_SECRET_CHARS:
            raise InterviewerError(f"{SECRET_FILE_VAR} ({path}) must hold at least {MIN_SECRET_CHARS} characters.")
        return cls(secret)

    def token(self, user: str) -> str:
        return self._signer.sign(user).decode()

    def user(self, token: str) -> str | None:
        """The user a token was signed for, or None when it is not ours or has expired."""
        try:
            return self._signer.unsign(token, max_age=MAX_AGE).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def admit(self, scope: MutableMapping[str, Any]) -> None:
        """Before Gradio sees a request: use the shared cookie name, and let Gradio know the signed tokens the
        request carries (an expired one is forgotten)."""
        app = scope.get("app")
        tokens = getattr(app, "tokens", None)
        if app is None or not isinstance(tokens, dict):
            return
        app.cookie_id = self.cookie_id
        for token in self._tokens(scope):
            user = self.user(token)
            if user is not None:
                tokens[token] = user
            else:  # expired, or signed with another secret: signed out
                tokens.pop(token, None)

    def _tokens(self, scope: MutableMapping[str, Any]) -> list[str]:
        raw = b"; ".join(value for name, value in scope.get("headers", []) if name == b"cookie")
        try:
            jar = SimpleCookie(raw.decode("latin-1"))
        except CookieError:
            return []
        names = (f"{_COOKIE}{self.cookie_id}", f"{_COOKIE}unsecure-{self.cookie_id}")
        return [jar[name].value for name in names if name in jar]

    def sign_in(self, scope: MutableMapping[str, Any], message: MutableMapping[str, Any], user: str) -> None:
        """After Gradio accepted a sign-in: the cookies it sets carry the signed token instead of its own."""
        token = self.token(user)
        tokens = getattr(scope.get("app"), "tokens", None)
        if isinstance(tokens, dict):
            tokens[token] = user
        pattern = re.compile(rf"^({_COOKIE}(?:unsecure-)?{self.cookie_id})=[^;]*".encode())
        message["headers"] = [
            (name, pattern.sub(rb"\1=" + token.encode(), value) if name.lower() == b"set-cookie" else value)
            for name, value in message.get("headers", [])
        ]
