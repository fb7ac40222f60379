"""The floor no Django setup can beat: a bare ASGI app that waits, then answers.

`uvicorn bench.rawasgi:app` answers any path after `delay` seconds (at most
30) with {"saying": word} or, given `task_id`, {"task_id": ...}: it is also the
upstream the benchmark's fan-out calls, so that the fan-out measures the view
and not a second Django.
"""

import asyncio
import json
from urllib.parse import parse_qs


def number(text, default=0.0):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return default
    return min(max(value, 0.0), 30.0) if value == value else default


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    delay = number(query.get("delay"))
    await asyncio.sleep(delay)
    if "task_id" in query:
        answer = {"task_id": query["task_id"][:20], "delay": delay}
    else:
        answer = {"saying": query.get("word", "")[:200]}
    body = json.dumps(answer).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
