"""The floor under the data plane's streaming figures: an ASGI app that relays each request to the simulator and its
answer back chunk by chunk, and does nothing else (no key, no parsing, no usage), on the same server, protocol and
HTTP client (byok.providers.http_client) as the data plane. What it adds over a direct call is what any relay on this
stack pays for the extra hop. `uvicorn bench._relay_floor:app` with RELAY_UPSTREAM set to the simulator's URL.
"""

import os

from byok.providers import http_client

UPSTREAM = os.environ.get("RELAY_UPSTREAM", "")
PASSED = (b"authorization", b"x-api-key", b"anthropic-version", b"content-type")


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in PASSED}
    response = await http_client.request("POST", UPSTREAM + scope["path"], headers=headers, data=body, timeout=30)
    try:
        head = {"type": "http.response.start", "status": response.status,
                "headers": [(b"content-type", response.headers.get("content-type", "").encode())]}
        while (chunk := await response.next_chunk()) is not None:
            if head:  # the head leaves with the first chunk, as the data plane's does
                await send(head)
                head = None
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        response.release()
    await send({"type": "http.response.body", "body": b""})
