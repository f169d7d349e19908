"""Checks of the rendered chart that a schema cannot make:

- every Deployment has readiness /readyz and liveness /healthz probes on its
  container port, runs as non-root with a read-only root filesystem, and has
  a termination grace longer than SHUTDOWN_GRACE_MS;
- every Service, PodDisruptionBudget and HorizontalPodAutoscaler points at a
  Deployment of the release;
- every NAME_FILE setting names a file under a mounted volume, and every
  ConfigMap and Secret that a pod mounts or reads is rendered too (unless it
  is an existingSecret the values name).

  python3 manifests.py [--external=secret,secret] rendered.yaml ...
      --external: Secrets that exist outside the chart (existingSecret values)
"""
import sys

import yaml

problems = []


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


external_secrets = set()
paths = []
for arg in sys.argv[1:]:
    if arg.startswith("--external="):
        external_secrets |= set(filter(None, arg.split("=", 1)[1].split(",")))
    else:
        paths.append(arg)

for path in paths:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deployments = by_kind.get("Deployment", [])
    if not deployments:
        problems.append(f"{path}: no Deployment rendered")
    rendered = {(d["kind"], d["metadata"]["name"]) for d in docs}

    for dep in deployments:
        name = dep["metadata"]["name"]
        where = f"{path}: Deployment {name}"
        pod = dep["spec"]["template"]
        spec = pod["spec"]
        if not labels_match(dep["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"]):
            problems.append(f"{where}: selector does not match the pod labels")
        psc = spec.get("securityContext", {})
        if not psc.get("runAsNonRoot"):
            problems.append(f"{where}: runAsNonRoot is not set")
        mounts_by_volume = {v["name"]: v for v in spec.get("volumes", [])}
        for vol in spec.get("volumes", []):
            if "configMap" in vol and ("ConfigMap", vol["configMap"]["name"]) not in rendered:
                problems.append(f"{where}: mounts ConfigMap {vol['configMap']['name']}, which is not rendered")
            if "secret" in vol:
                secret = vol["secret"]["secretName"]
                if ("Secret", secret) not in rendered and secret not in external_secrets:
                    problems.append(f"{where}: mounts Secret {secret}, which is not rendered")
        for c in spec["containers"]:
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for probe, route in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                got = c.get(probe, {}).get("httpGet", {})
                if got.get("path") != route or got.get("port") not in ports:
                    problems.append(f"{where}: {probe} should GET {route} on a container port (got {got})")
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem"):
                problems.append(f"{where}: readOnlyRootFilesystem is not set")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            env = {e["name"]: e for e in c.get("env", [])}
            grace_ms = int(env.get("SHUTDOWN_GRACE_MS", {}).get("value", "10000"))
            if spec.get("terminationGracePeriodSeconds", 30) * 1000 <= grace_ms:
                problems.append(f"{where}: terminationGracePeriodSeconds is not longer than SHUTDOWN_GRACE_MS")
            mount_paths = [m["mountPath"] for m in c.get("volumeMounts", [])]
            for m in c.get("volumeMounts", []):
                if m["name"] not in mounts_by_volume:
                    problems.append(f"{where}: mounts volume {m['name']}, which the pod does not define")
            for e in c.get("env", []):
                if e["name"].endswith("_FILE") or e["name"] in ("PLATFORMS_FILE", "IMAGE_POLICY_FILE"):
                    if not any(e.get("value", "").startswith(p.rstrip("/") + "/") for p in mount_paths):
                        problems.append(f"{where}: {e['name']}={e.get('value')} is not under a mounted volume")
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ("Secret", ref["name"]) not in rendered and ref["name"] not in external_secrets:
                    problems.append(f"{where}: env {e['name']} reads Secret {ref['name']}, which is not rendered")
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments]
    for kind in ("Service", "PodDisruptionBudget"):
        for d in by_kind.get(kind, []):
            selector = d["spec"]["selector"] if kind == "Service" else d["spec"]["selector"]["matchLabels"]
            if not any(labels_match(selector, labels) for labels in pod_labels):
                problems.append(f"{path}: {kind} {d['metadata']['name']} selects no Deployment's pods")
    for d in by_kind.get("HorizontalPodAutoscaler", []):
        target = d["spec"]["scaleTargetRef"]["name"]
        if ("Deployment", target) not in rendered:
            problems.append(f"{path}: HPA {d['metadata']['name']} scales {target}, which is not rendered")
        dep = next(x for x in deployments if x["metadata"]["name"] == target)
        if "replicas" in dep["spec"]:
            problems.append(f"{path}: Deployment {target} sets replicas although an HPA scales it")
    if len(by_kind.get("PodDisruptionBudget", [])) < len(deployments):
        problems.append(f"{path}: a Deployment has no PodDisruptionBudget")

if problems:
    print("\n".join(problems))
    sys.exit(1)
