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
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import yaml
from traitlets.config import Config, PyFileConfigLoader

from dockerspawner import DockerSpawner
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
            dummy.write_text("a-throwaway-value-for-the-check\n")
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
    policy = yaml.safe_load((root / "deploy/compose/image-policy.yaml").read_text())
    allowed = policy["allowed"].values() if isinstance(policy["allowed"], dict) else policy["allowed"]
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
    profiles = values.get("singleuser", {}).get("profileList", [])
    if not profiles:
        problems.append(f"{path}: singleuser.profileList is empty")
    user = SimpleNamespace(name="learner", id=1, url="/user/learner/")
    KubeSpawner(config=Config({"KubeSpawner": {"profile_list": profiles}}), user=user, _mock=True)


mode, path = sys.argv[1], sys.argv[2]
{"--compose": compose_mode, "--z2jh": z2jh_mode}[mode](path)
if problems:
    print("\n".join(problems))
    sys.exit(1)
