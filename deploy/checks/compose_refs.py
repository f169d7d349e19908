"""What the compose-spec schema cannot see: every build context, Dockerfile
and bind-mounted file exists; every depends_on, volume and network that a
service names is defined; the services' PORT matches the published port.

  python3 compose_refs.py deploy/compose.yaml
"""
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

path = Path(sys.argv[1]).resolve()
base = path.parent
compose = yaml.safe_load(path.read_text())
services = compose.get("services", {})
volumes = set((compose.get("volumes") or {}).keys())
networks = set((compose.get("networks") or {}).keys())
problems = []

for name, service in services.items():
    build = service.get("build")
    if build:
        context = base / (build if isinstance(build, str) else build.get("context", "."))
        if not context.is_dir():
            problems.append(f"{name}: build context {context} does not exist")
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        if not dockerfile.is_file():
            problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
    for dependency in service.get("depends_on", {}) or {}:
        if dependency not in services:
            problems.append(f"{name}: depends_on {dependency}, which is not a service")
    for mount in service.get("volumes", []) or []:
        source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
        if source.startswith((".", "/")):
            if source.startswith(".") and not (base / source).exists():
                problems.append(f"{name}: bind mount source {source} does not exist")
        elif source and source not in volumes:
            problems.append(f"{name}: volume {source} is not declared under volumes:")
    for network in service.get("networks", []) or []:
        if network not in networks:
            problems.append(f"{name}: network {network} is not declared under networks:")
    env = service.get("environment") or {}
    port = str(env.get("PORT", ""))
    for published in service.get("ports", []) or []:
        target = str(published).split(":")[-1]
        if port and target != port:
            problems.append(f"{name}: publishes container port {target} but PORT is {port}")

# The values that two services must share agree.
def env_of(name):
    return services.get(name, {}).get("environment") or {}


tool, broker, hub, platform = env_of("tool-auth"), env_of("spawner-broker"), env_of("jupyterhub"), env_of("platform")
pairs = [
    ("tool-auth HUB_CLIENT_ID", tool.get("HUB_CLIENT_ID"), "jupyterhub OAUTH_CLIENT_ID", hub.get("OAUTH_CLIENT_ID")),
    ("tool-auth HUB_CLIENT_SECRET_FILE", tool.get("HUB_CLIENT_SECRET_FILE"), "jupyterhub OAUTH_CLIENT_SECRET_FILE", hub.get("OAUTH_CLIENT_SECRET_FILE")),
    ("tool-auth HUB_REDIRECT_URI", tool.get("HUB_REDIRECT_URI"), "jupyterhub HUB_PUBLIC_URL + /hub/oauth_callback", f"{hub.get('HUB_PUBLIC_URL')}/hub/oauth_callback"),
    ("tool-auth BROKER_SERVICE_TOKEN_FILE", tool.get("BROKER_SERVICE_TOKEN_FILE"), "spawner-broker BROKER_SERVICE_TOKEN_FILE", broker.get("BROKER_SERVICE_TOKEN_FILE")),
    ("spawner-broker HUB_API_TOKEN_FILE", broker.get("HUB_API_TOKEN_FILE"), "jupyterhub BROKER_HUB_API_TOKEN_FILE", hub.get("BROKER_HUB_API_TOKEN_FILE")),
    ("spawner-broker HUB_PUBLIC_URL", broker.get("HUB_PUBLIC_URL"), "jupyterhub HUB_PUBLIC_URL", hub.get("HUB_PUBLIC_URL")),
    ("tool-auth issuer", tool.get("issuer"), "platform PUBLIC_URL", platform.get("PUBLIC_URL")),
    ("tool-auth authorize_url", tool.get("authorize_url"), "platform PUBLIC_URL + /lti/authorize", f"{platform.get('PUBLIC_URL')}/lti/authorize"),
    ("jupyterhub OAUTH_AUTHORIZE_URL", hub.get("OAUTH_AUTHORIZE_URL"), "tool-auth PUBLIC_URL + /oauth2/authorize", f"{tool.get('PUBLIC_URL')}/oauth2/authorize"),
]
for left, a, right, b in pairs:
    if a != b:
        problems.append(f"{left} ({a}) differs from {right} ({b})")
# URLs a server (not a browser) fetches must name a compose service.
for owner, env, name in [("tool-auth", tool, "jwks_endpoint"), ("tool-auth", tool, "BROKER_URL"), ("spawner-broker", broker, "HUB_URL"),
                         ("jupyterhub", hub, "OAUTH_TOKEN_URL"), ("jupyterhub", hub, "OAUTH_USERDATA_URL")]:
    host = urlparse(env.get(name, "")).hostname
    if host not in services:
        problems.append(f"{owner} {name}: {env.get(name)} is fetched by a container, so its host must be a compose service, not {host}")
tools_file = yaml.safe_load((base / "compose/platform-tools.yaml").read_text())["tools"][0]
tool_public = tool.get("PUBLIC_URL")
for field, path in [("initiate_login_uri", "/lti13/oauth_login"), ("target_link_uri", "/lti13/launch")]:
    if tools_file.get(field) != f"{tool_public}{path}":
        problems.append(f"compose/platform-tools.yaml {field} should be {tool_public}{path}")
if tools_file.get("redirect_uris") != [f"{tool_public}/lti13/oauth_callback"]:
    problems.append(f"compose/platform-tools.yaml redirect_uris should be [{tool_public}/lti13/oauth_callback]")
if tools_file.get("client_id") != tool.get("client_id"):
    problems.append("compose/platform-tools.yaml client_id differs from tool-auth's client_id")

# The images the demo platform offers must be ones the broker's policy allows.
tools = yaml.safe_load((base / "compose/platform-tools.yaml").read_text())["tools"]
policy = yaml.safe_load((base / "compose/image-policy.yaml").read_text())
allowed = policy["allowed"]
# An entry is an image, or {image, name, description} (the deep linking picker's words).
image_of = lambda entry: entry["image"] if isinstance(entry, dict) else entry  # noqa: E731
allowed = {image_of(v) for v in allowed.values()} | set(allowed) if isinstance(allowed, dict) else {image_of(v) for v in allowed}
for tool in tools:
    for image in tool.get("images", []):
        value = image["value"] if isinstance(image, dict) else image
        if value not in allowed:
            problems.append(f"compose/platform-tools.yaml: {tool['client_id']} offers {value}, which compose/image-policy.yaml does not allow")

if problems:
    print("\n".join(problems))
    sys.exit(1)
