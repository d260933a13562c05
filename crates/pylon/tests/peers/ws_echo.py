"""A WebSocket server and client (the `websockets` package) for Pylon's end-to-end tests.

    ws_echo.py serve <address:port> <name>   answers every message with "<name>:<message>"
    ws_echo.py call <ws://host:port/path>    sends three messages, prints the answers as JSON
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


async def run_server(address, name):
    host, port = address.rsplit(":", 1)

    async def echo(connection):
        async for message in connection:
            await connection.send(f"{name}:{message}")

    # The path the server saw, so the test can check what the proxy sent.
    async def process_response(connection, request, response):
        response.headers["X-Path"] = request.path
        return response

    async with serve(echo, host, int(port), process_response=process_response):
        print(f"serving WebSocket on {address}", flush=True)
        await asyncio.Future()


async def run_client(url):
    async with connect(url, open_timeout=5) as ws:
        echoed = []
        for message in ("one", "two", "three"):
            await ws.send(message)
            echoed.append(await asyncio.wait_for(ws.recv(), 5))
        path = ws.response.headers.get("X-Path")
    print(json.dumps({"echoed": echoed, "path": path}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        asyncio.run(run_server(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(run_client(sys.argv[2]))
