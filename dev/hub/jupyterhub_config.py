# The local JupyterHub that `pnpm start` and `pnpm dev` run beside the three
# services (dev/start.ts writes nothing here: every value comes from the
# environment it sets). It is the production setup of
# deploy/jupyterhub/jupyterhub_config.py with two differences a laptop
# needs: everything on localhost, and a local-process spawner instead of
# DockerSpawner, since a machine without containers cannot run the images.
#
# - sign-in: an unmodified GenericOAuthenticator against tool-auth;
# - the broker: a service with a token and a role, driving the REST API;
# - servers: LocalImageSpawner below, a SimpleLocalProcessSpawner running
#   JupyterLab from the same virtualenv as the current user. It checks the
#   image the broker asks for against the allowed images (as DockerSpawner's
#   allowed_images does) and records it in the server's environment
#   (JUPYTER_IMAGE, as KubeSpawner sets it, and LTILAUNCH_IMAGE); it does
#   not run it. deploy/compose.yaml runs the same hub with DockerSpawner,
#   which does.
import os
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from tornado import web
from traitlets import List

c = get_config()  # noqa: F821 (JupyterHub provides get_config)


def setting(name):
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    raise SystemExit(f"dev/hub/jupyterhub_config.py: {name} is not set (dev/start.ts sets it)")


hub_dir = Path(setting("LTILAUNCH_HUB_DIR"))
hub_public_url = setting("HUB_PUBLIC_URL").rstrip("/")

# ---------------------------------------------------------------- the hub --
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(setting("LTILAUNCH_HUB_PORT"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(setting("LTILAUNCH_HUB_API_PORT"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{setting('LTILAUNCH_HUB_PROXY_API_PORT')}"
c.ConfigurableHTTPProxy.command = [setting("LTILAUNCH_CHP")]
c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")
c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")
c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub_dir / "cookie_secret")
# Stopping `pnpm start` stops the servers too.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 5

# ------------------------------------------------------ sign-in: tool-auth --
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = setting("OAUTH_CLIENT_ID")
c.GenericOAuthenticator.client_secret = setting("OAUTH_CLIENT_SECRET")
c.GenericOAuthenticator.oauth_callback_url = f"{hub_public_url}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = setting("OAUTH_AUTHORIZE_URL")
c.GenericOAuthenticator.token_url = setting("OAUTH_TOKEN_URL")
c.GenericOAuthenticator.userdata_url = setting("OAUTH_USERDATA_URL")
c.GenericOAuthenticator.scope = ["openid"]
c.GenericOAuthenticator.enable_pkce = True
c.GenericOAuthenticator.login_service = "your course"
c.GenericOAuthenticator.auto_login = True
c.GenericOAuthenticator.username_claim = "name"
c.GenericOAuthenticator.allow_all = True
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.GenericOAuthenticator.admin_groups = {"admin"}
os.environ.setdefault("JUPYTERHUB_CRYPT_KEY", setting("JUPYTERHUB_CRYPT_KEY"))
c.Authenticator.enable_auth_state = True
c.Authenticator.refresh_pre_spawn = True

# -------------------------------------------- the broker: service + role --
c.JupyterHub.services = [{"name": "spawner-broker", "api_token": setting("BROKER_HUB_API_TOKEN")}]
c.JupyterHub.load_roles = [
    {
        "name": "spawner-broker",
        "description": "ltilaunch spawner-broker: create users, start their servers, manage groups",
        "scopes": ["admin:users", "servers", "access:servers", "read:users", "list:users", "admin:groups"],
        "services": ["spawner-broker"],
    }
]


# ------------------------------------------- servers: local JupyterLab --
class LocalImageSpawner(SimpleLocalProcessSpawner):
    """A local JupyterLab that honours the image choice as far as it can.

    The image must be one of allowed_images (the broker sends the full name
    in user_options['image'], as to DockerSpawner); the server gets it in
    JUPYTER_IMAGE and LTILAUNCH_IMAGE, and the progress stream says that a
    local JupyterLab runs instead of the image.
    """

    allowed_images = List(config=True, help="Images a launch may choose (DockerSpawner.allowed_images)")

    def chosen_image(self):
        image = (self.user_options or {}).get("image") or self.allowed_images[0]
        if image not in self.allowed_images:
            raise web.HTTPError(400, f"Image {image!r} is not allowed; allowed: {', '.join(self.allowed_images)}")
        return image

    def get_env(self):
        env = super().get_env()
        image = self.chosen_image()
        env["JUPYTER_IMAGE"] = image
        env["LTILAUNCH_IMAGE"] = image
        return env

    async def start(self):
        self.chosen_image()
        return await super().start()

    async def progress(self):
        yield {
            "progress": 50,
            "message": f"Starting a local JupyterLab: this hub has no containers, so {self.chosen_image()}"
            " would run only under DockerSpawner or KubeSpawner (deploy/compose.yaml)",
        }


def refuse_unlisted_image(spawner, user_options):
    """Checks the image when the start is asked for, so the hub answers 400 at once (as DockerSpawner does)."""
    image = user_options.get("image")
    if image is not None and image not in spawner.allowed_images:
        # An HTTPError keeps its message (any other error becomes "Invalid user options").
        raise web.HTTPError(400, f"Image {image!r} is not allowed; allowed: {', '.join(spawner.allowed_images)}")


c.JupyterHub.spawner_class = LocalImageSpawner
c.LocalImageSpawner.apply_user_options = refuse_unlisted_image
c.LocalImageSpawner.allowed_images = [image.strip() for image in setting("ALLOWED_IMAGES").split(",") if image.strip()]
c.LocalImageSpawner.home_dir_template = str(hub_dir / "home" / "{username}")
c.Spawner.cmd = [setting("LTILAUNCH_SINGLEUSER")]
# Where notebooks post grades (clients/python: ltilaunch-scores reads it):
# tool-auth's scores API, beside its token endpoint.
scores_url = os.environ.get("LTILAUNCH_SCORES_URL") or setting("OAUTH_TOKEN_URL").replace("/oauth2/token", "/scores")
c.Spawner.environment = {"LTILAUNCH_SCORES_URL": scores_url}
c.Spawner.default_url = "/lab"
c.Spawner.ip = "127.0.0.1"
# The broker's POST returns at once (202) and it follows the progress
# stream, so the message of LocalImageSpawner.progress reaches the page.
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
if os.getuid() == 0:
    # jupyter_server refuses to run as root unless told.
    c.Spawner.args = ["--ServerApp.allow_root=True"]
