"""Sign-ins that every replica holding the same secret accepts (interviewer.web.shared_login)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interviewer.errors import InterviewerError
from interviewer.web.shared_login import SharedLogin


class GradioApp:
    """What the middleware touches of Gradio's app: its cookie id and its table of sign-in tokens."""

    def __init__(self) -> None:
        self.cookie_id = "random-per-process"
        self.tokens: dict[str, str] = {}


def request(app: GradioApp, cookie: str) -> dict[str, Any]:
    return {"type": "http", "app": app, "headers": [(b"cookie", cookie.encode())]}


def test_a_sign_in_on_one_replica_holds_on_another_with_the_same_secret() -> None:
    first, second = SharedLogin(b"s" * 32), SharedLogin(b"s" * 32)
    app_a, app_b = GradioApp(), GradioApp()
    message: dict[str, Any] = {
        "type": "http.response.start",
        "headers": [(b"set-cookie", f"access-token-{first.cookie_id}=gradio-own; HttpOnly; Path=/".encode())],
    }
    first.sign_in({"app": app_a}, message, "alice")
    cookie = message["headers"][0][1].decode().split(";")[0]
    assert "gradio-own" not in cookie and cookie.startswith(f"access-token-{first.cookie_id}=")

    second.admit(request(app_b, cookie))
    assert app_b.cookie_id == first.cookie_id
    assert list(app_b.tokens.values()) == ["alice"]


def test_a_token_signed_with_another_secret_or_forged_signs_no_one_in() -> None:
    ours, theirs = SharedLogin(b"o" * 32), SharedLogin(b"t" * 32)
    app = GradioApp()
    for token in (theirs.token("alice"), "alice", ours.token("alice") + "x"):
        app.tokens[token] = "alice"  # even one a replica once knew
        ours.admit(request(app, f"access-token-{ours.cookie_id}={token}"))
        assert token not in app.tokens
    assert ours.user(ours.token("bob")) == "bob"


def test_a_short_or_missing_secret_file_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "short").write_text("abc")
    for path in (tmp_path / "short", tmp_path / "missing"):
        with pytest.raises(InterviewerError, match="INTERVIEWER_SECRET_FILE"):
            SharedLogin.from_file(path)
