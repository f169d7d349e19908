"""The client against a small scores API on a loopback port (real HTTP, standard library only)."""
import contextlib
import io
import json
import os
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from ltilaunch_scores import ScoreFailed, ScoresClient, ScoresError, post_score, score_status  # noqa: E402
from ltilaunch_scores.cli import main as cli_main  # noqa: E402

TOKEN = "notebook-token-0123456789"


class FakeScores:
    """What tool-auth's scores API does, as far as the client sees it."""

    def __init__(self):
        self.requests = []
        self.records = {}
        # How many GETs a score stays queued, and how it ends.
        self.queued_reads = 1
        self.outcome = "sent"
        self.down = False

    def handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        self.requests.append({"method": handler.command, "path": handler.path, "authorization": handler.headers.get("Authorization"), "body": body})
        if self.down:
            return 503, {"statusCode": 503, "code": "TOOL_AUTH_STORE_UNAVAILABLE", "message": "try again"}, {"Retry-After": "5"}
        if handler.headers.get("Authorization") != f"token {TOKEN}":
            return 401, {"statusCode": 401, "code": "TOOL_AUTH_HUB_TOKEN_INVALID", "message": "The hub does not know this token."}, {}
        if handler.command == "POST" and handler.path == "/scores":
            if body.get("user") == "someone-else":
                return 403, {"statusCode": 403, "code": "TOOL_AUTH_SCORE_FORBIDDEN", "message": "Only staff may post for others."}, {}
            score_id = f"score-{len(self.records) + 1}"
            self.records[score_id] = {"reads": 0, "body": body}
            return 202, {"id": score_id, "state": "queued", "url": f"/scores/{score_id}"}, {}
        if handler.command == "GET" and handler.path.startswith("/scores/"):
            score_id = handler.path.rsplit("/", 1)[1]
            record = self.records.get(score_id)
            if record is None:
                return 404, {"statusCode": 404, "code": "TOOL_AUTH_SCORE_NOT_FOUND", "message": "No such score."}, {}
            record["reads"] += 1
            state = "queued" if record["reads"] <= self.queued_reads else self.outcome
            reply = {"id": score_id, "state": state, "attempts": record["reads"]}
            if state == "failed":
                reply["lastError"] = "the platform said: line item closed"
            return 200, reply, {}
        if handler.command == "POST" and handler.path == "/rosters/sync":
            return 202, {"state": "started", "course": (body or {}).get("course", "course-42"), "statusUrl": "/rosters/status?course=course-42"}, {}
        if handler.command == "GET" and handler.path.startswith("/rosters/status"):
            return 200, {"ok": True, "created": 3, "path": handler.path}, {}
        return 404, {"statusCode": 404, "code": "TOOL_AUTH_NOT_FOUND", "message": "no route"}, {}


class ScoresTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeScores()
        api = self.api

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                status, body, headers = api.handle(self)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/scores"
        env = mock.patch.dict(os.environ, {"LTILAUNCH_SCORES_URL": self.url, "JUPYTERHUB_API_TOKEN": TOKEN})
        env.start()
        self.addCleanup(env.stop)

    def test_post_score_sends_the_score_with_the_notebook_token(self):
        record = post_score(8, 10, assignment="hw1", comment="well done", assignment_label="Homework 1")
        self.assertEqual(record["state"], "queued")
        sent = self.api.requests[0]
        self.assertEqual(sent["authorization"], f"token {TOKEN}")
        self.assertEqual(sent["body"], {"scoreGiven": 8, "scoreMaximum": 10, "activityProgress": "Completed",
                                        "gradingProgress": "FullyGraded", "assignment": "hw1", "comment": "well done",
                                        "assignmentLabel": "Homework 1"})
        self.assertEqual(score_status(record["id"])["id"], record["id"])

    def test_wait_follows_the_score_until_the_platform_took_it(self):
        self.api.queued_reads = 2
        record = ScoresClient().post_score(3.5, 4, wait=True, wait_timeout=30)
        self.assertEqual(record["state"], "sent")
        self.assertEqual(len([r for r in self.api.requests if r["method"] == "GET"]), 3)

    def test_staff_sync_the_roster_beside_the_scores_url(self):
        client = ScoresClient()
        self.assertEqual(client.sync_roster()["state"], "started")
        self.assertEqual(client.sync_roster(course="ml-201")["course"], "ml-201")
        self.assertEqual(client.roster_status(course="ml 201")["path"], "/rosters/status?course=ml+201")
        self.assertEqual(self.api.requests[0]["authorization"], f"token {TOKEN}")

    def test_a_failed_score_raises_with_the_platform_reason(self):
        self.api.outcome = "failed"
        with self.assertRaises(ScoreFailed) as caught:
            post_score(1, 2, wait=True, wait_timeout=30)
        self.assertEqual(caught.exception.code, "SCORE_FAILED")
        self.assertIn("line item closed", caught.exception.message)
        self.assertEqual(caught.exception.record["state"], "failed")

    def test_refusals_carry_the_server_code_and_status(self):
        with self.assertRaises(ScoresError) as caught:
            ScoresClient(token="wrong-token").post_score(1, 2)
        self.assertEqual((caught.exception.code, caught.exception.status), ("TOOL_AUTH_HUB_TOKEN_INVALID", 401))
        with self.assertRaises(ScoresError) as caught:
            post_score(1, 2, user="someone-else")
        self.assertEqual((caught.exception.code, caught.exception.status), ("TOOL_AUTH_SCORE_FORBIDDEN", 403))
        with self.assertRaises(ScoresError) as caught:
            score_status("nope")
        self.assertEqual(caught.exception.code, "TOOL_AUTH_SCORE_NOT_FOUND")
        self.api.down = True
        with self.assertRaises(ScoresError) as caught:
            post_score(1, 2)
        self.assertEqual((caught.exception.status, caught.exception.retry_after), (503, 5))

    def test_bad_scores_are_refused_before_any_request(self):
        for args in [(-1, 10), (1, 0), (True, 10), (float("nan"), 10), ("8", 10)]:
            with self.assertRaises(ValueError):
                post_score(*args)
        with self.assertRaises(ValueError):
            post_score(1, 2, activity_progress="Done")
        self.assertEqual(self.api.requests, [])

    def test_missing_settings_and_an_unreachable_api_are_clear(self):
        with mock.patch.dict(os.environ, {"LTILAUNCH_SCORES_URL": ""}):
            with self.assertRaises(ScoresError) as caught:
                post_score(1, 2)
            self.assertEqual(caught.exception.code, "CLIENT_NOT_CONFIGURED")
        with mock.patch.dict(os.environ, {"JUPYTERHUB_API_TOKEN": ""}):
            with self.assertRaises(ScoresError) as caught:
                post_score(1, 2)
            self.assertIn("JUPYTERHUB_API_TOKEN", caught.exception.message)
        port = self.server.server_address[1]
        self.server.shutdown()
        self.server.server_close()
        with self.assertRaises(ScoresError) as caught:
            ScoresClient(url=f"http://127.0.0.1:{port}/scores", timeout=2).post_score(1, 2)
        self.assertEqual(caught.exception.code, "CLIENT_UNREACHABLE")
        self.assertNotIn(TOKEN, repr(ScoresClient()))

    def test_the_command_line(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(cli_main(["8", "10", "--assignment", "hw1"]), 0)
        self.assertEqual(json.loads(out.getvalue())["state"], "queued")
        self.assertEqual(self.api.requests[0]["body"]["scoreGiven"], 8)
        self.assertIsInstance(self.api.requests[0]["body"]["scoreGiven"], int)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), mock.patch.dict(os.environ, {"JUPYTERHUB_API_TOKEN": "wrong"}):
            self.assertEqual(cli_main(["8", "10"]), 1)
        self.assertIn("TOOL_AUTH_HUB_TOKEN_INVALID", err.getvalue())
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(cli_main(["--status", "score-1"]), 0)
        self.assertEqual(json.loads(out.getvalue())["id"], "score-1")


if __name__ == "__main__":
    unittest.main()
