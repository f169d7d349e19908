"""Runs Python code in a fresh kernel of a running Jupyter server, as a
notebook cell runs it, and prints what the cell printed as JSON:

    test/.peers/venv/bin/python peers/run_in_kernel.py   < {"server_url", "token", "code", "timeout"}

The server is a user's single-user server behind the hub's proxy
(``<hub>/user/<name>/<server>/``), reached with a token that may access it.
The kernel is the server's own child: it runs with the server's environment
(``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_USER``, ...), so the code runs as the
user's notebook would. The kernel is shut down afterwards.

The kernel messaging protocol over the server's websocket
(``/api/kernels/<id>/channels``, JSON messages with a ``channel``): one
``execute_request`` on shell; ``stream``, ``error`` and ``status`` on iopub;
``execute_reply`` on shell. tornado's websocket client (in the hub's
virtualenv) speaks it.
"""

import asyncio
import datetime
import json
import sys
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect


def message(session, msg_type, content):
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "e2e",
            "session": session,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
        "channel": "shell",
    }


async def run(args):
    base = args["server_url"].rstrip("/")
    headers = {"Authorization": f"token {args['token']}"}
    timeout = float(args.get("timeout", 60))
    http = AsyncHTTPClient()
    reply = await http.fetch(
        f"{base}/api/kernels", method="POST", headers=headers, body=json.dumps({"name": "python3"}),
        request_timeout=timeout,
    )
    kernel = json.loads(reply.body)
    result = {"kernel": kernel["id"], "stdout": "", "stderr": "", "status": None, "error": None}
    try:
        ws_url = "ws" + base[len("http"):] + f"/api/kernels/{kernel['id']}/channels"
        conn = await websocket_connect(HTTPRequest(ws_url, headers=headers, request_timeout=timeout))
        session = uuid.uuid4().hex
        request = message(session, "execute_request", {
            "code": args["code"],
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        })
        await conn.write_message(json.dumps(request))
        msg_id = request["header"]["msg_id"]
        replied = idle = False
        deadline = asyncio.get_running_loop().time() + timeout
        while not (replied and idle):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                result["status"] = "timeout"
                break
            raw = await asyncio.wait_for(conn.read_message(), left)
            if raw is None:
                result["status"] = "closed"
                break
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            content = msg.get("content", {})
            if kind == "stream":
                result[content.get("name", "stdout")] += content.get("text", "")
            elif kind == "error":
                result["error"] = {"ename": content.get("ename"), "evalue": content.get("evalue"),
                                   "traceback": content.get("traceback")}
            elif kind == "execute_reply":
                replied = True
                result["status"] = content.get("status")
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        conn.close()
    finally:
        try:
            await http.fetch(f"{base}/api/kernels/{kernel['id']}", method="DELETE", headers=headers,
                             request_timeout=timeout)
        except HTTPClientError:
            pass
    return result


def main():
    args = json.load(sys.stdin)
    try:
        result = asyncio.run(run(args))
    except HTTPClientError as err:
        body = err.response.body.decode("utf-8", "replace") if err.response is not None else ""
        result = {"status": "http-error", "error": {"ename": "HTTPClientError", "evalue": f"{err.code} {body[:500]}"}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
