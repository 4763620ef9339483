"""`python app.py [--host H] [--port N]`: the mock interviewer in the browser, at http://127.0.0.1:7860."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main(argv: list[str] | None = None) -> int:
    from interviewer.web import serve

    parser = argparse.ArgumentParser(description="Serve the MLOps mock interviewer in the browser.")
    parser.add_argument("--host", default=os.environ.get("INTERVIEWER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("INTERVIEWER_PORT", "7860")))
    args = parser.parse_args(argv)
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
