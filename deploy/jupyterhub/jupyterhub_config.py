# JupyterHub for ltilaunch, as deploy/compose.yaml runs it: an unmodified hub
# that signs people in through tool-auth (GenericOAuthenticator), lets the
# spawner-broker start their servers (a service with a role), and starts
# each server with DockerSpawner from an allowed image.
#
# Every value comes from the environment, so the same file serves elsewhere;
# NAME_FILE names a file that holds the value of NAME (secrets).
# docs/operator-guide.md explains each part.
import os
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides get_config)


def setting(name, default=None):
    """NAME, or the content of the file NAME_FILE names, or the default."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    if default is None:
        raise SystemExit(f"jupyterhub_config.py: set {name} (or {name}_FILE)")
    return default


def setting_list(name, default):
    return [part.strip() for part in setting(name, default).split(",") if part.strip()]


hub_public_url = setting("HUB_PUBLIC_URL", "http://localhost:8000").rstrip("/")
data_dir = Path(setting("HUB_DATA_DIR", "/srv/jupyterhub/data"))

# ---------------------------------------------------------------- the hub --
c.JupyterHub.bind_url = "http://0.0.0.0:8000"
# The user servers (other containers) reach the hub's API by its compose name.
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = setting("HUB_CONNECT_URL", "http://jupyterhub:8081")
c.JupyterHub.db_url = f"sqlite:///{data_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
# The broker starts one named server per course (HUB_NAMED_SERVERS=true).
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = int(setting("NAMED_SERVER_LIMIT", "10"))

# ------------------------------------------------------ sign-in: tool-auth --
# tool-auth is an OAuth2 authorization server for the hub. The browser is
# sent to authorize_url; the hub itself calls token_url and userdata_url.
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = setting("OAUTH_CLIENT_ID", "jupyterhub")
c.GenericOAuthenticator.client_secret = setting("OAUTH_CLIENT_SECRET")
c.GenericOAuthenticator.oauth_callback_url = f"{hub_public_url}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = setting("OAUTH_AUTHORIZE_URL")
c.GenericOAuthenticator.token_url = setting("OAUTH_TOKEN_URL")
c.GenericOAuthenticator.userdata_url = setting("OAUTH_USERDATA_URL")
c.GenericOAuthenticator.scope = ["openid"]
# PKCE (S256); tool-auth checks it whenever a challenge is sent.
c.GenericOAuthenticator.enable_pkce = True
c.GenericOAuthenticator.login_service = setting("OAUTH_LOGIN_SERVICE", "your course")
# Straight to tool-auth: a launched user has a session there already.
c.GenericOAuthenticator.auto_login = True
# userinfo's `name` is the username that tool-auth derived (lower-cased),
# the same one the broker created the hub user with.
c.GenericOAuthenticator.username_claim = "name"
# Whoever tool-auth vouches for came through an LTI launch: let them in.
c.GenericOAuthenticator.allow_all = True
# Hub groups follow userinfo's `groups` (staff/learner, course groups).
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
# The `admin` group holds only launches whose roles tool-auth's ADMIN_ROLES
# lists (none by default).
c.GenericOAuthenticator.admin_groups = set(setting_list("HUB_ADMIN_GROUPS", "admin"))
# Keep userinfo (with the LTI claims, under oauth_user.lti) for spawners and
# re-read it before each spawn. Needs JUPYTERHUB_CRYPT_KEY (32 bytes, hex).
os.environ.setdefault("JUPYTERHUB_CRYPT_KEY", setting("JUPYTERHUB_CRYPT_KEY"))
c.Authenticator.enable_auth_state = True
c.Authenticator.refresh_pre_spawn = True

# -------------------------------------------- the broker: service + role --
# The broker calls the hub API with this token to create users, start named
# servers with user_options, follow their progress, and manage groups.
c.JupyterHub.services = [
    {
        "name": "spawner-broker",
        "api_token": setting("BROKER_HUB_API_TOKEN"),
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "spawner-broker",
        "description": "ltilaunch spawner-broker: create users, start their servers, manage groups",
        "scopes": [
            "admin:users",
            "servers",
            "access:servers",
            "read:users",
            "list:users",
            "admin:groups",
        ],
        "services": ["spawner-broker"],
    }
]

# ------------------------------------------------- servers: DockerSpawner --
# The broker sends user_options = {"image": "<full image name>"}; the keys of
# allowed_images must be those names, so a plain list is used. Keep it in
# step with the broker's image policy (deploy/compose/image-policy.yaml).
allowed_images = setting_list("ALLOWED_IMAGES", "quay.io/jupyter/minimal-notebook:latest")
c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.allowed_images = allowed_images
c.DockerSpawner.image = allowed_images[0]
c.DockerSpawner.network_name = setting("DOCKER_NETWORK_NAME", "ltilaunch")
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True
c.DockerSpawner.notebook_dir = "/home/jovyan/work"
# One volume per user and server, so that work outlives the container.
c.DockerSpawner.volumes = {"jupyterhub-{username}-{servername}": "/home/jovyan/work"}
# The first start of a large image includes its pull.
c.Spawner.start_timeout = int(setting("SPAWN_START_TIMEOUT", "600"))
c.Spawner.http_timeout = 120
# Where notebooks post grades (pip install ltilaunch-scores from
# clients/python reads it; the server's own JUPYTERHUB_API_TOKEN is its
# credential): tool-auth's scores API, as the user servers reach it.
c.Spawner.environment = {
    "LTILAUNCH_SCORES_URL": setting(
        "LTILAUNCH_SCORES_URL", setting("OAUTH_TOKEN_URL").replace("/oauth2/token", "/scores")
    ),
}
