"""
Drives oauthenticator's real GenericOAuthenticator against a running
tool-auth, the way JupyterHub does: the authorize redirect that
OAuthLoginHandler builds (PKCE S256, state), then authenticate() (the token
request with data=None and Basic auth, userinfo with Bearer), group
management, check_allowed, and refresh_user() with an expired access token.

Usage: python generic_oauthenticator.py TOOL_URL CLIENT_SECRET CALLBACK_URL MODE=SESSION_COOKIE...
where MODE is basic_auth's value: true, false or default (oauthenticator's own).
Prints one JSON object per mode with what the hub ended up with.
"""
import asyncio
import json
import sys
import urllib.request
from urllib.parse import parse_qs, urlencode, urlparse

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler, _serialize_state

tool, secret, callback = sys.argv[1:4]
runs = [arg.split("=", 1) for arg in sys.argv[4:]]


def make_authenticator(basic):
    # "default" leaves basic_auth at oauthenticator's own default.
    extra = {} if basic == "default" else {"basic_auth": basic == "true"}
    return GenericOAuthenticator(
        client_id="jupyterhub",
        client_secret=secret,
        oauth_callback_url=callback,
        authorize_url=f"{tool}/oauth2/authorize",
        token_url=f"{tool}/oauth2/token",
        userdata_url=f"{tool}/oauth2/userinfo",
        username_claim="name",
        scope=["openid"],
        enable_auth_state=True,
        manage_groups=True,
        auth_state_groups_key="oauth_user.groups",
        admin_groups={"admin"},
        allowed_groups={"learner", "staff"},
        enable_pkce=True,
        **extra,
    )


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


async def login(authenticator, session):
    out = {"basic_auth": authenticator.basic_auth, "enable_pkce": authenticator.enable_pkce}
    # What OAuthLoginHandler.get() sends the browser to (its own PKCE generator).
    verifier, challenge = OAuthLoginHandler._generate_pkce_params(None)
    state = _serialize_state({"state_id": "s1"})
    query = {
        "response_type": "code",
        "redirect_uri": callback,
        "client_id": authenticator.client_id,
        "scope": " ".join(authenticator.scope),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    request = urllib.request.Request(
        f"{authenticator.authorize_url}?{urlencode(query)}",
        headers={"Cookie": f"ltilaunch_session={session}"},
    )
    try:
        urllib.request.build_opener(NoRedirect).open(request)
        raise SystemExit("authorize did not redirect")
    except urllib.error.HTTPError as e:
        location = e.headers["Location"]
    back = parse_qs(urlparse(location).query)
    out["state_back"] = back["state"][0] == state

    class Handler:
        """The slice of OAuthCallbackHandler that authenticate() uses."""

        def get_argument(self, name, default=None):
            return back.get(name, [default])[0]

        def get_state_cookie(self):
            return _serialize_state({"state_id": "s1", "code_verifier": verifier})

    model = await authenticator.get_authenticated_user(Handler(), None)
    out["name"] = model["name"]
    out["admin"] = model["admin"]
    out["groups"] = sorted(model.get("groups", []))
    out["lti"] = model["auth_state"]["oauth_user"]["lti"]
    out["has_refresh_token"] = bool(model["auth_state"]["refresh_token"])

    # refresh_user as before a spawn: first with a dead access token, so that
    # the refresh token is used.
    auth_state = dict(model["auth_state"])
    auth_state["token_response"] = dict(auth_state["token_response"], access_token="expired-token")

    class User:
        name = model["name"]

        async def get_auth_state(self):
            return auth_state

    refreshed = await authenticator.refresh_user(User(), None)
    out["refreshed"] = bool(refreshed)
    out["refreshed_name"] = refreshed["name"] if refreshed else None
    out["refresh_rotated"] = bool(refreshed) and refreshed["auth_state"]["refresh_token"] != model["auth_state"]["refresh_token"]
    return out


async def main():
    results = {}
    for basic, session in runs:
        results[basic] = await login(make_authenticator(basic), session)
    print(json.dumps(results))


asyncio.run(main())
