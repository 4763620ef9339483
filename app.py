"""`python app.py [--host H] [--port N] [--public]`: the mock interviewer in the browser, at http://127.0.0.1:7860."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from interviewer.errors import InterviewerError
    from interviewer.web.server import serve, web_settings

    parser = argparse.ArgumentParser(description="Serve the MLOps mock interviewer in the browser.")
    parser.add_argument("--host", help="address to bind (default INTERVIEWER_HOST or 127.0.0.1)")
    parser.add_argument("--port", help="port to bind, 0 for any free one (default INTERVIEWER_PORT or 7860)")
    parser.add_argument(
        "--public",
        action="store_true",
        help="serve on a non-loopback address with no login: anyone who reaches the port can read and change "
        "every interview (set INTERVIEWER_AUTH or INTERVIEWER_AUTH_FILE instead)",
    )
    args = parser.parse_args(argv)
    try:
        settings = web_settings(args.host, args.port)
    except InterviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(settings, public=args.public)


if __name__ == "__main__":
    sys.exit(main())
