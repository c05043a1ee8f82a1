"""Container health check: the service's own /healthz, with the standard library only.

The slim image has no curl. SERVICE=all checks every service mounted in the
one process, so a single broken service marks the container unhealthy.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

SERVICES = ("identity", "tickets", "notifications", "automation", "timetracking", "integrations")


def check(service: str, port: str) -> str | None:
    """Return why `service` is unhealthy, or None when it answers as itself."""
    url = f"http://127.0.0.1:{port}/api/{service}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            body = json.loads(response.read())
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"{url}: unexpected body {body!r}"
    return None


def main() -> int:
    service = os.environ.get("SERVICE", "all")
    port = os.environ.get("PORT", "8000")
    services = SERVICES if service == "all" else (service,)
    problems = [problem for name in services if (problem := check(name, port)) is not None]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
