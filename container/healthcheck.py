"""The image's HEALTHCHECK: exit 0 when this container's worker says 200 on `/ready`, 1 otherwise.

Standard library only, so a probe every few seconds costs a few milliseconds, not an import of the
pipeline. It reads the worker's own settings from the environment (the names of
streams/kafka/settings.py): the port from ARENA_WEB_PORT, the token from ARENA_WEB_TOKEN (sent as
`Authorization: Bearer ...`, never printed). It asks over loopback, which a worker bound to 127.0.0.1
(the default) and one bound to 0.0.0.0 (Compose, where workers route queries to each other) both
answer; a worker bound to one other address is asked there.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

_WILDCARDS = {"", "0.0.0.0", "::", "localhost"}  # noqa: S104 - names of binds, not a bind


def ready_url(env: dict[str, str]) -> str | None:
    port = env.get("ARENA_WEB_PORT")
    if not port:
        return None
    bind = env.get("ARENA_WEB_BIND", "127.0.0.1")
    if bind in _WILDCARDS or bind.startswith("127."):
        host = "127.0.0.1"
    elif ":" in bind:
        host = f"[{bind}]"  # an IPv6 address, ::1 included
    else:
        host = bind
    return f"http://{host}:{port}/ready"


def main() -> int:
    env = dict(os.environ)
    url = ready_url(env)
    if url is None:
        print("no web endpoints: ARENA_WEB_PORT is not set, so there is no /ready to ask", file=sys.stderr)
        return 1
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - a loopback URL
    token = env.get("ARENA_WEB_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        try:
            reasons = json.loads(exc.read()).get("reasons") or []
        except (ValueError, AttributeError):
            reasons = []
        print(f"not ready ({exc.code}): {'; '.join(map(str, reasons)) or exc.reason}", file=sys.stderr)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        print(f"no answer from {url}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
