"""The scores API client: the standard library only (urllib), so it installs in any notebook image."""
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request

#: Where the scores API is; the hub's spawner sets it for every notebook server.
URL_VARIABLE = "LTILAUNCH_SCORES_URL"
#: The notebook server's own hub token, which the scores API checks.
TOKEN_VARIABLE = "JUPYTERHUB_API_TOKEN"

#: AGS 2.0 activityProgress values.
ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
#: AGS 2.0 gradingProgress values.
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")

#: States after which a score does not change any more.
FINAL_STATES = ("sent", "failed")


class ScoresError(Exception):
    """The scores API refused a request, or could not be reached.

    ``code`` is the server's stable code (``TOOL_AUTH_...``), or one of this
    client's own (``CLIENT_NOT_CONFIGURED``, ``CLIENT_UNREACHABLE``,
    ``CLIENT_BAD_REPLY``, ``CLIENT_TIMEOUT``); ``status`` is the HTTP status
    when the server answered, ``retry_after`` its Retry-After in seconds.
    """

    def __init__(self, code, message, status=None, retry_after=None, body=None):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.body = body


class ScoreFailed(ScoresError):
    """The platform did not take the score (the tool gave up on it); ``record`` is its last state."""

    def __init__(self, record):
        error = record.get("lastError") or record.get("error") or {}
        if isinstance(error, str):
            error = {"message": error}
        super().__init__(
            error.get("code") or "SCORE_FAILED",
            error.get("message") or "the platform did not accept the score",
            body=record,
        )
        self.record = record


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return value


class ScoresClient:
    """A client of the scores API.

    ``url`` and ``token`` default to ``LTILAUNCH_SCORES_URL`` and
    ``JUPYTERHUB_API_TOKEN`` from the environment.
    """

    def __init__(self, url=None, token=None, timeout=30.0):
        url = url if url is not None else os.environ.get(URL_VARIABLE, "")
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE, "")
        if not url:
            raise ScoresError(
                "CLIENT_NOT_CONFIGURED",
                f"{URL_VARIABLE} is not set: the hub sets it in notebook servers that ltilaunch starts; "
                "elsewhere, set it to the scores URL of tool-auth (https://<tool-auth>/scores)",
            )
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ScoresError("CLIENT_NOT_CONFIGURED", f"{URL_VARIABLE} must be an http(s) URL, not {url!r}")
        if not token:
            raise ScoresError(
                "CLIENT_NOT_CONFIGURED",
                f"{TOKEN_VARIABLE} is not set: run this inside a notebook server started by the hub",
            )
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self):
        # Never the token.
        return f"ScoresClient(url={self.url!r})"

    def post_score(
        self,
        score,
        maximum,
        *,
        assignment=None,
        comment=None,
        activity_progress="Completed",
        grading_progress="FullyGraded",
        user=None,
        wait=False,
        wait_timeout=120.0,
        assignment_label=None,
        course=None,
    ):
        """Posts a score; returns the API's record of it (``id``, ``state``, ...).

        ``assignment`` names a gradebook column (made once per name);
        without it the score goes to the column of the link the notebook was
        launched from. ``user`` (staff only) names the hub user the score is
        for. With ``wait`` the call returns once the platform took the score
        (``state`` ``sent``), and raises :class:`ScoreFailed` if it did not.
        """
        _number("score", score)
        _number("maximum", maximum)
        if maximum <= 0:
            raise ValueError("maximum must be greater than 0")
        if score < 0:
            raise ValueError("score must not be negative")
        if activity_progress not in ACTIVITY_PROGRESS:
            raise ValueError(f"activity_progress must be one of {', '.join(ACTIVITY_PROGRESS)}")
        if grading_progress not in GRADING_PROGRESS:
            raise ValueError(f"grading_progress must be one of {', '.join(GRADING_PROGRESS)}")
        body = {
            "scoreGiven": score,
            "scoreMaximum": maximum,
            "activityProgress": activity_progress,
            "gradingProgress": grading_progress,
        }
        if assignment is not None:
            body["assignment"] = str(assignment)
        if comment is not None:
            body["comment"] = str(comment)
        if user is not None:
            body["user"] = str(user)
        if assignment_label is not None:
            body["assignmentLabel"] = str(assignment_label)
        if course is not None:
            body["course"] = str(course)
        record = self._request("POST", self.url, body)
        if not wait:
            return record
        return self.wait(record, timeout=wait_timeout)

    def score_status(self, score_id):
        """The state of a score this server posted: ``queued``, ``sent`` or ``failed``, with attempts and the last error."""
        return self._request("GET", f"{self.url}/{urllib.parse.quote(str(score_id), safe='')}")

    def sync_roster(self, course=None):
        """Staff only: asks tool-auth to sync the course roster (NRPS) into the hub now; returns ``{state, course, statusUrl}``.

        The course is that of this notebook server, unless ``course`` (a
        context id) names another one of yours.
        """
        return self._request("POST", f"{self._base()}/rosters/sync", {} if course is None else {"course": str(course)})

    def roster_status(self, course=None):
        """Staff only: the outcome of the course roster's last sync (counts: created, grouped, skipped, ...)."""
        query = "" if course is None else "?" + urllib.parse.urlencode({"course": str(course)})
        return self._request("GET", f"{self._base()}/rosters/status{query}")

    def _base(self):
        # The scores URL is <tool-auth>/scores; the roster routes are beside it.
        return self.url[: -len("/scores")] if self.url.endswith("/scores") else self.url

    def wait(self, record, timeout=120.0):
        """Polls a posted score until it is sent (returns its record) or failed (raises :class:`ScoreFailed`)."""
        deadline = time.monotonic() + timeout
        delay = 0.5
        while record.get("state") not in FINAL_STATES:
            if time.monotonic() >= deadline:
                raise ScoresError("CLIENT_TIMEOUT", f"the score {record.get('id')} was still {record.get('state')} after {timeout} seconds; "
                                  "it stays queued on the server: check it later with score_status()", body=record)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)
            record = self.score_status(record["id"])
        if record.get("state") == "failed":
            raise ScoreFailed(record)
        return record

    def _request(self, method, url, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"token {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _json(response.read(), response.status)
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                reply = json.loads(raw.decode("utf-8")) if raw else {}
            except ValueError:
                reply = {}
            if not isinstance(reply, dict):
                reply = {}
            retry_after = err.headers.get("Retry-After") if err.headers else None
            raise ScoresError(
                reply.get("code") or f"HTTP_{err.code}",
                reply.get("message") or err.reason or "the scores API refused the request",
                status=err.code,
                retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
                body=reply,
            ) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ScoresError("CLIENT_UNREACHABLE", f"the scores API at {self.url} cannot be reached ({reason})") from None


def _json(raw, status):
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise ScoresError("CLIENT_BAD_REPLY", f"the scores API answered {status} without JSON", status=status) from None
    if not isinstance(value, dict):
        raise ScoresError("CLIENT_BAD_REPLY", f"the scores API answered {status} with something other than an object", status=status)
    return value


def post_score(score, maximum, **options):
    """Posts a score with a client configured from the environment (see :meth:`ScoresClient.post_score`)."""
    return ScoresClient().post_score(score, maximum, **options)


def score_status(score_id):
    """The state of a score, with a client configured from the environment (see :meth:`ScoresClient.score_status`)."""
    return ScoresClient().score_status(score_id)
