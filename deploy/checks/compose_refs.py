"""What the compose-spec schema cannot see: every build context, Dockerfile
and bind-mounted file exists; every depends_on, volume and network that a
service names is defined; the services' PORT matches the published port.

  python3 compose_refs.py deploy/compose.yaml
"""
import sys
from pathlib import Path

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

# The images the demo platform offers must be ones the broker's policy allows.
tools = yaml.safe_load((base / "compose/platform-tools.yaml").read_text())["tools"]
policy = yaml.safe_load((base / "compose/image-policy.yaml").read_text())
allowed = policy["allowed"]
allowed = set(allowed.values()) | set(allowed) if isinstance(allowed, dict) else set(allowed)
for tool in tools:
    for image in tool.get("images", []):
        value = image["value"] if isinstance(image, dict) else image
        if value not in allowed:
            problems.append(f"compose/platform-tools.yaml: {tool['client_id']} offers {value}, which compose/image-policy.yaml does not allow")

if problems:
    print("\n".join(problems))
    sys.exit(1)
