"""Loads a hub configuration with the hub image's own packages and fails on
any section or option that those packages do not know (traitlets would only
warn at start), or on a value that a class refuses.

  python3 hub_config.py --compose deploy/jupyterhub/jupyterhub_config.py
      the file, with the environment deploy/compose.yaml gives the hub
      (every *_FILE replaced by a throwaway file)
  python3 hub_config.py --z2jh deploy/helm/examples/values-z2jh.yaml
      the Zero to JupyterHub values: hub.config, hub.services, hub.loadRoles,
      singleuser.profileList
"""
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import yaml

# KubeSpawner loads a kube config when it is made (no cluster is called): a
# throwaway one, set before kubernetes_asyncio reads KUBECONFIG at import.
_kubeconfig = Path(tempfile.mkdtemp()) / "config"
_kubeconfig.write_text(yaml.safe_dump({
    "apiVersion": "v1", "kind": "Config", "current-context": "check",
    "clusters": [{"name": "check", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "check", "user": {"token": "unused"}}],
    "contexts": [{"name": "check", "context": {"cluster": "check", "user": "check"}}],
}))
os.environ["KUBECONFIG"] = str(_kubeconfig)

from traitlets.config import Config, PyFileConfigLoader

from dockerspawner import DockerSpawner  # noqa: E402
from jupyterhub.app import JupyterHub
from jupyterhub.scopes import _check_scopes_exist
from kubespawner import KubeSpawner
from oauthenticator.generic import GenericOAuthenticator

CLASSES = {cls.__name__: cls for cls in (JupyterHub, GenericOAuthenticator, DockerSpawner, KubeSpawner)}
for cls in (GenericOAuthenticator, DockerSpawner, KubeSpawner):
    for base in cls.mro():
        if hasattr(base, "class_traits") and base.__name__ not in CLASSES:
            CLASSES[base.__name__] = base

problems = []


def check_config(config, where):
    for section, values in config.items():
        cls = CLASSES.get(section)
        if cls is None:
            problems.append(f"{where}: unknown section {section}")
            continue
        traits = cls.class_traits(config=True)
        for name in values:
            if name not in traits:
                problems.append(f"{where}: {section}.{name} is not an option of {section}")


def check_roles(roles, services, where):
    names = {service["name"] for service in services}
    for role in roles:
        try:
            _check_scopes_exist(role.get("scopes", []))
        except Exception as err:  # noqa: BLE001 (report whatever the hub says)
            problems.append(f"{where}: role {role.get('name')}: {err}")
        for service in role.get("services", []):
            if service not in names:
                problems.append(f"{where}: role {role.get('name')} names service {service}, which is not defined")


def compose_mode(path):
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "deploy/compose.yaml").read_text())
    env = compose["services"]["jupyterhub"]["environment"]
    scratch = tempfile.mkdtemp()
    for name, value in env.items():
        if name.endswith("_FILE"):
            dummy = Path(scratch) / name
            # a crypt key must be 32 bytes (hex); any string does for the rest
            dummy.write_text(os.urandom(32).hex() + "\n" if "CRYPT_KEY" in name else "a-throwaway-value-for-the-check\n")
            value = str(dummy)
        os.environ[name] = str(value)
    os.environ["HUB_DATA_DIR"] = scratch

    loader = PyFileConfigLoader(Path(path).name, path=str(Path(path).parent))
    config = loader.load_config()
    check_config(config, path)
    GenericOAuthenticator(config=config)
    DockerSpawner(config=config, user=SimpleNamespace(name="learner", id=1, url="/user/learner/"), name="demo-101")
    hub = config.JupyterHub
    check_roles(hub.load_roles, hub.services, path)
    # enable_auth_state needs a usable crypt key and the cryptography package.
    from jupyterhub.crypto import CryptKeeper
    try:
        CryptKeeper.instance().check_available()
    except Exception as err:  # noqa: BLE001
        problems.append(f"{path}: auth state cannot be encrypted: {err}")
    policy = yaml.safe_load((root / "deploy/compose/image-policy.yaml").read_text())
    allowed = policy["allowed"].values() if isinstance(policy["allowed"], dict) else policy["allowed"]
    # An entry is an image, or {image, name, description} (the deep linking picker's words).
    allowed = [entry["image"] if isinstance(entry, dict) else entry for entry in allowed]
    if set(allowed) != set(config.DockerSpawner.allowed_images):
        problems.append(
            f"DockerSpawner.allowed_images {sorted(config.DockerSpawner.allowed_images)} "
            f"differs from the broker's policy {sorted(allowed)}"
        )


def z2jh_mode(path):
    values = yaml.safe_load(Path(path).read_text())
    hub = values.get("hub", {})
    config = Config(hub.get("config", {}))
    check_config(config, f"{path} hub.config")
    GenericOAuthenticator(config=config)
    services = [{"name": name, **spec} for name, spec in hub.get("services", {}).items()]
    roles = [{"name": name, **spec} for name, spec in hub.get("loadRoles", {}).items()]
    check_roles(roles, services, f"{path} hub.loadRoles")
    # The hub's OAuth settings must match the ltilaunch chart's defaults, for a
    # release named ltilaunch in namespace ltilaunch (as the guide installs it).
    root = Path(__file__).resolve().parents[2]
    chart = yaml.safe_load((root / "deploy/helm/ltilaunch/values.yaml").read_text())
    oauth = hub.get("config", {}).get("GenericOAuthenticator", {})
    tool_auth_svc = "http://ltilaunch-tool-auth.ltilaunch.svc.cluster.local:3001"
    expected = {
        "client_id": chart["toolAuth"]["hub"]["clientId"],
        "oauth_callback_url": chart["toolAuth"]["hub"]["redirectUri"],
        "authorize_url": f"{chart['toolAuth']['publicUrl']}/oauth2/authorize",
        "token_url": f"{tool_auth_svc}/oauth2/token",
        "userdata_url": f"{tool_auth_svc}/oauth2/userinfo",
    }
    for name, want in expected.items():
        if oauth.get(name) != want:
            problems.append(f"{path}: GenericOAuthenticator.{name} is {oauth.get(name)}, the chart needs {want}")
    if not chart["toolAuth"]["hub"]["redirectUri"].startswith(chart["spawnerBroker"]["hub"]["publicUrl"]):
        problems.append("chart values: toolAuth.hub.redirectUri is not under spawnerBroker.hub.publicUrl")
    if "spawner-broker" not in hub.get("services", {}):
        problems.append(f"{path}: hub.services has no spawner-broker")
    profiles = values.get("singleuser", {}).get("profileList", [])
    if not profiles:
        problems.append(f"{path}: singleuser.profileList is empty")
    # The chart's broker settings must name this profile, option and choices,
    # and its image policy must allow exactly the images the choices start.
    broker = yaml.safe_load((root / "deploy/helm/ltilaunch/values.yaml").read_text())["spawnerBroker"]
    env = broker["env"]
    profile = next((p for p in profiles if p.get("slug") == env.get("HUB_KUBESPAWNER_PROFILE")), None)
    if profile is None:
        problems.append(f"{path}: no profile with slug {env.get('HUB_KUBESPAWNER_PROFILE')} (HUB_KUBESPAWNER_PROFILE)")
    else:
        option = profile.get("profile_options", {}).get(env.get("HUB_KUBESPAWNER_IMAGE_OPTION", "image"), {})
        choices = {slug: c["kubespawner_override"]["image"] for slug, c in option.get("choices", {}).items()}
        pairs = dict(reversed(e.strip().rsplit("=", 1)) for e in env.get("HUB_KUBESPAWNER_CHOICES", "").split(",") if "=" in e)
        if pairs != choices:
            problems.append(f"{path}: profile choices {choices} differ from the chart's HUB_KUBESPAWNER_CHOICES {pairs}")
        allowed = broker["imagePolicy"]["allowed"]
        allowed = {e["image"] if isinstance(e, dict) else e for e in (allowed.values() if isinstance(allowed, dict) else allowed)}
        if allowed != set(choices.values()):
            problems.append(f"{path}: profile images {sorted(choices.values())} differ from the chart's image policy {sorted(allowed)}")
        # What KubeSpawner does with the user_options the broker sends: each
        # image's choice must start exactly that image.
        option_name = env.get("HUB_KUBESPAWNER_IMAGE_OPTION", "image")

        async def started_image(choice):
            user = SimpleNamespace(name="learner", id=1, url="/user/learner/")
            spawner = KubeSpawner(config=Config({"KubeSpawner": {"profile_list": profiles}}), user=user)
            spawner.user_options = {"profile": profile["slug"], option_name: choice}
            await spawner.load_user_options()
            return spawner.image

        for choice, image in pairs.items():
            started = asyncio.run(started_image(choice))
            if started != image:
                problems.append(f"{path}: user_options {{profile: {profile['slug']}, {option_name}: {choice}}} start {started}, not {image}")


mode, path = sys.argv[1], sys.argv[2]
{"--compose": compose_mode, "--z2jh": z2jh_mode}[mode](path)
if problems:
    print("\n".join(problems))
    sys.exit(1)
