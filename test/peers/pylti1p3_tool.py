"""An LTI 1.3 tool written with PyLTI1p3 (from PyPI) and its Flask adapter,
run as a process of its own by peers/pylti1p3-tool.ts:

    test/.peers/venv/bin/python peers/pylti1p3_tool.py   (settings in the JSON file PYLTI1P3_TOOL_CONFIG names)

It is set up as PyLTI1p3's README sets up a Flask tool: a ToolConfDict with
the platform's issuer, client ids, auth_login_url, auth_token_url and
key_set_url, the tool's own RSA key (its public half served as the JWKS the
platform registers), FlaskOIDCLogin on /login, FlaskMessageLaunch on
/launch, and a launch data cache. The launch handler does what a graded
activity does with Assignment and Grade Services and Names and Role
Provisioning Services, through PyLTI1p3's own clients only:

- has_ags() / has_nrps();
- NRPS: reads the roster page by page (get_members_page from the claim's
  URL with nrps_page_limit as its limit, following the
  platform's rel="next" links) and again with get_members();
- AGS: find_or_create_lineitem (by tag), put_grade for the launching learner
  (score_given / score_maximum from the config), get_grades for that line
  item, and the line items of the context;
- where PyLTI1p3 itself refuses (a scope the claim does not grant), the same
  call again with the scope claimed anyway, so that the platform's answer is
  recorded too, as a tool that ignores the claim would see it.

Everything it saw is recorded, one JSON line per launch, in record_file and
on GET /e2e/launches; an exception in a step is recorded with the platform's
HTTP status and body, never raised.
"""

import json
import os
import sys
import threading
import time
import traceback

from flask import Flask, jsonify, request
from pylti1p3.contrib.flask import (
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException, OIDCException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.tool_config import ToolConfDict
from pylti1p3.utils import add_param_to_url

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


class MemoryCache:
    """The cache FlaskCacheDataStorage takes (get, and set with a lifetime), in
    this process: one tool process, so nothing is shared."""

    def __init__(self):
        self._values = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._values.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires is not None and expires < time.time():
                del self._values[key]
                return None
            return value

    def set(self, key, value, exp=None):
        with self._lock:
            self._values[key] = (value, time.time() + exp if exp else None)


def load_config():
    path = os.environ.get("PYLTI1P3_TOOL_CONFIG")
    if not path:
        sys.exit("pylti1p3_tool: PYLTI1P3_TOOL_CONFIG (a JSON file) is required")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


config = load_config()
with open(config["private_key_file"], encoding="utf-8") as f:
    PRIVATE_KEY = f.read()
with open(config["public_key_file"], encoding="utf-8") as f:
    PUBLIC_KEY = f.read()

# One issuer, one entry per client id (the many-clients form of ToolConfDict).
tool_conf = ToolConfDict(
    {
        config["issuer"]: [
            {
                "default": index == 0,
                "client_id": client["client_id"],
                "auth_login_url": config["auth_login_url"],
                "auth_token_url": config["auth_token_url"],
                "auth_audience": config.get("auth_audience"),
                "key_set_url": config["key_set_url"],
                "key_set": None,
                "deployment_ids": client["deployment_ids"],
            }
            for index, client in enumerate(config["clients"])
        ]
    }
)
for client in config["clients"]:
    tool_conf.set_private_key(config["issuer"], PRIVATE_KEY, client_id=client["client_id"])
    tool_conf.set_public_key(config["issuer"], PUBLIC_KEY, client_id=client["client_id"])

app = Flask("pylti1p3_e2e_tool")
app.config.update(
    SECRET_KEY=config["secret_key"],
    # Our platform's session cookie lives on the same host (127.0.0.1): another name.
    SESSION_COOKIE_NAME="pylti1p3-e2e-session",
    SESSION_COOKIE_SAMESITE="Lax",
)
cache = MemoryCache()
launches = []
launches_lock = threading.Lock()


def launch_data_storage():
    return FlaskCacheDataStorage(cache)


def error_of(err):
    """What an exception in a step says: PyLTI1p3's class, message, and for
    an LtiServiceException the platform's status, content type and body."""
    found = {"error": type(err).__name__, "message": str(err)}
    if isinstance(err, LtiServiceException):
        response = err.response
        found["status"] = response.status_code
        found["content_type"] = response.headers.get("content-type")
        try:
            found["body"] = response.json()
        except ValueError:
            found["body"] = response.text
    elif not isinstance(err, (LtiException, OIDCException)):
        found["traceback"] = traceback.format_exc()
    return found


def attempt(steps, name, action):
    started = time.time()
    try:
        value = action()
        steps[name] = {"ok": True, "value": value, "ms": round((time.time() - started) * 1000)}
        return value
    except Exception as err:  # recorded, not raised: the test reads what happened
        steps[name] = {"ok": False, "ms": round((time.time() - started) * 1000), **error_of(err)}
        return None


def lineitem_dict(item):
    return None if item is None else json.loads(item.get_value()) | {"id": item.get_id()}


def roster_by_pages(nrps, claim):
    """The roster a page at a time (nrps_page_limit members per page, when the
    config gives one), each next page from the platform's Link header as
    PyLTI1p3 reads it."""
    pages = []
    url = claim["context_memberships_url"]
    if config.get("nrps_page_limit"):
        url = add_param_to_url(url, "limit", config["nrps_page_limit"])
    while True:
        members, url = nrps.get_members_page(url)
        pages.append({"user_ids": [member.get("user_id") for member in members], "next": url})
        if not url or len(pages) > 50:
            break
    return pages


def run_services(message_launch, body, record):
    steps = record["steps"]
    roles = body.get("https://purl.imsglobal.org/spec/lti/claim/roles", [])
    learner = message_launch.check_student_access() and not message_launch.check_staff_access()
    record["learner"] = learner
    if message_launch.has_nrps():
        nrps = message_launch.get_nrps()
        claim = body["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
        attempt(steps, "nrps_pages", lambda: roster_by_pages(nrps, claim))
        attempt(steps, "get_members", nrps.get_members)
    if not message_launch.has_ags():
        return
    ags = message_launch.get_ags()
    record["ags_can"] = {
        "read_lineitem": ags.can_read_lineitem(),
        "create_lineitem": ags.can_create_lineitem(),
        "put_grade": ags.can_put_grade(),
        "read_grades": ags.can_read_grades(),
    }
    activity = config["activity"]
    wanted = (
        LineItem()
        .set_tag(activity["tag"])
        .set_label(activity["label"])
        .set_score_maximum(activity["score_maximum"])
        .set_resource_id(activity["resource_id"])
    )
    lineitem = attempt(steps, "find_or_create_lineitem", lambda: ags.find_or_create_lineitem(wanted))
    steps.get("find_or_create_lineitem", {})["value"] = lineitem_dict(lineitem)
    if learner and lineitem is not None:
        grade = (
            Grade()
            .set_score_given(activity["score_given"])
            .set_score_maximum(activity["score_maximum"])
            .set_timestamp(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
            .set_user_id(body["sub"])
            .set_comment(activity.get("comment"))
        )
        attempt(steps, "put_grade", lambda: strip_headers(ags.put_grade(grade, lineitem)))
        if not ags.can_put_grade():
            # PyLTI1p3 refused before asking; ask the platform as a tool that ignores the claim would.
            claimed = dict(body["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"])
            claimed["scope"] = list(claimed.get("scope", [])) + [SCORE_SCOPE]
            forced = AssignmentsGradesService(message_launch.get_service_connector(), claimed)
            attempt(steps, "put_grade_scope_not_granted", lambda: strip_headers(forced.put_grade(grade, lineitem)))
        other = config.get("other_user_id")
        if other:
            # A score for someone who is not in this course.
            stranger = Grade().set_score_given(1).set_score_maximum(activity["score_maximum"]) \
                .set_timestamp(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())) \
                .set_activity_progress("Completed").set_grading_progress("FullyGraded").set_user_id(other)
            attempt(steps, "put_grade_not_a_member", lambda: strip_headers(ags.put_grade(stranger, lineitem)))
    if lineitem is not None:
        attempt(steps, "get_grades", lambda: ags.get_grades(lineitem))
    attempt(steps, "get_lineitems", ags.get_lineitems)
    record["roles"] = roles


def strip_headers(response):
    return {"body": response.get("body")}


@app.route("/login", methods=["GET", "POST"])
def login():
    flask_request = FlaskRequest()
    target_link_uri = flask_request.get_param("target_link_uri")
    if not target_link_uri:
        return jsonify({"error": "target_link_uri is missing"}), 400
    oidc_login = FlaskOIDCLogin(flask_request, tool_conf, launch_data_storage=launch_data_storage())
    try:
        return oidc_login.redirect(target_link_uri)
    except Exception as err:  # PyLTI1p3's OIDCException: an unknown issuer or client, no login_hint
        return jsonify({"refused": "login", **error_of(err)}), 400


@app.route("/launch", methods=["POST"])
def launch():
    flask_request = FlaskRequest()
    message_launch = FlaskMessageLaunch(flask_request, tool_conf, launch_data_storage=launch_data_storage())
    record = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "steps": {}}
    try:
        body = message_launch.get_launch_data()
    except Exception as err:
        record["refused"] = error_of(err)
        remember(record)
        return jsonify({"refused": "launch", **record["refused"]}), 400
    record.update({
        "sub": body.get("sub"),
        "name": body.get("name"),
        "client_id": body.get("aud") if isinstance(body.get("aud"), str) else (body.get("aud") or [None])[0],
        "message_type": body.get("https://purl.imsglobal.org/spec/lti/claim/message_type"),
        "context": body.get("https://purl.imsglobal.org/spec/lti/claim/context"),
        "resource_link": body.get("https://purl.imsglobal.org/spec/lti/claim/resource_link"),
        "has_ags": message_launch.has_ags(),
        "has_nrps": message_launch.has_nrps(),
        "ags_claim": body.get("https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"),
        "nrps_claim": body.get("https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"),
    })
    run_services(message_launch, body, record)
    remember(record)
    ok = all(step["ok"] for name, step in record["steps"].items() if not name.startswith("put_grade_"))
    return (
        f"<!doctype html><html><head><title>pylti1p3 tool</title></head><body>"
        f"<h1 id=\"pylti1p3-launched\">PyLTI1p3 accepted the launch</h1>"
        f"<p id=\"services\">{'services answered' if ok else 'a service refused'}</p></body></html>"
    )


def remember(record):
    with launches_lock:
        launches.append(record)
        with open(config["record_file"], "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


@app.route("/jwks", methods=["GET"])
def jwks():
    return jsonify(tool_conf.get_jwks())


@app.route("/e2e/launches", methods=["GET"])
def recorded_launches():
    with launches_lock:
        return jsonify(launches)


@app.route("/e2e/health", methods=["GET"])
def health():
    return jsonify({"ok": True})


if __name__ == "__main__":
    print(f"pylti1p3 tool listening on http://127.0.0.1:{config['port']}", flush=True)
    app.run(host="127.0.0.1", port=config["port"], threaded=True, use_reloader=False)
