#!/usr/bin/env bash
# End-to-end test on a real cluster: kind (Kubernetes in Docker) + the Helm chart + examples/basic.yaml.
#
# IT CANNOT RUN ON THE PROJECT'S OWN MACHINES OR IN ITS CI: they have no Docker engine, no kind
# and no helm (none can be installed there), which is why the test suite uses the embedded cluster
# (src/sim) and renders the chart with hack/helm-template instead. Run it on a workstation or a CI
# runner that has docker, kind (>= 0.23), helm (>= 3.14) and kubectl:
#
#   hack/e2e-kind.sh                 # build, create the cluster, install, check, delete the cluster
#   KEEP_CLUSTER=1 hack/e2e-kind.sh  # leave the cluster up afterwards for poking around
#
# What it checks: the image builds; kind's kubelets run with --config-dir (drop-ins); the chart
# installs (controller, agents, CRD, RBAC, the agent guard); examples/basic.yaml becomes Ready; and
# every node's *effective* kubelet configuration (/configz, read through the API server) carries
# the policy's tracing stanza.
set -euo pipefail

cd "$(dirname "$0")/.."

CLUSTER="${CLUSTER:-kto-e2e}"
# kind node image: >= 1.30 so the chart's ValidatingAdmissionPolicy (v1) and the node claim in
# service account tokens exist, and --config-dir is beta (on by default).
NODE_IMAGE="${NODE_IMAGE:-kindest/node:v1.30.0}"
IMAGE="${IMAGE:-kubelet-tracing-operator:e2e}"
NAMESPACE="${NAMESPACE:-kto-system}"
RELEASE="${RELEASE:-kto}"
POLICY_FILE=examples/basic.yaml
POLICY=basic
TIMEOUT="${TIMEOUT:-600s}"
DROPIN_DIR=/etc/kubernetes/kubelet.conf.d

for tool in docker kind helm kubectl jq; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is required (see the header of $0)" >&2; exit 2; }
done

work="$(mktemp -d)"
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "--- e2e failed (exit $rc): state for debugging" >&2
    kubectl get ntp -o wide >&2 || true
    kubectl -n "$NAMESPACE" get pods -o wide >&2 || true
    kubectl -n "$NAMESPACE" logs -l app.kubernetes.io/component=controller --tail=100 >&2 || true
    kubectl -n "$NAMESPACE" logs -l app.kubernetes.io/component=agent --tail=100 --prefix >&2 || true
  fi
  if [ -z "${KEEP_CLUSTER:-}" ]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

echo "--- build $IMAGE"
docker build -t "$IMAGE" .

echo "--- create kind cluster $CLUSTER ($NODE_IMAGE), kubelets with --config-dir=$DROPIN_DIR"
# --config-dir is a kubelet flag, not a KubeletConfiguration field, so it goes in kubeadm's
# kubeletExtraArgs (the map form of kubeadm v1beta3, which kind uses up to Kubernetes 1.30; newer
# node images take the v1beta4 list form [{name: config-dir, value: ...}]). The directory must
# exist before the kubelet starts: an extraMount of an empty host directory creates it on each node.
mkdir -p "$work/dropins"
cat >"$work/kind.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraMounts:
      - {hostPath: $work/dropins/cp, containerPath: $DROPIN_DIR}
  - role: worker
    extraMounts:
      - {hostPath: $work/dropins/w1, containerPath: $DROPIN_DIR}
  - role: worker
    extraMounts:
      - {hostPath: $work/dropins/w2, containerPath: $DROPIN_DIR}
kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        config-dir: "$DROPIN_DIR"
  - |
    kind: JoinConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        config-dir: "$DROPIN_DIR"
EOF
mkdir -p "$work/dropins/cp" "$work/dropins/w1" "$work/dropins/w2"
kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --config "$work/kind.yaml" --wait 180s
kubectl config use-context "kind-$CLUSTER" >/dev/null

echo "--- check every kubelet runs with --config-dir"
for node in $(kind get nodes --name "$CLUSTER"); do
  docker exec "$node" grep -q -- "--config-dir=$DROPIN_DIR" /var/lib/kubelet/kubeadm-flags.env \
    || { echo "e2e-kind: kubelet on $node is not running with --config-dir=$DROPIN_DIR" >&2; exit 1; }
done

echo "--- load $IMAGE into the cluster"
kind load docker-image "$IMAGE" --name "$CLUSTER"

echo "--- helm install $RELEASE"
helm install "$RELEASE" charts/kubelet-tracing-operator \
  --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set controller.verifyConfigz=true \
  --wait --timeout "$TIMEOUT"
kubectl -n "$NAMESPACE" rollout status "deployment/$RELEASE-kubelet-tracing-operator-controller" --timeout "$TIMEOUT"
kubectl -n "$NAMESPACE" rollout status "daemonset/$RELEASE-kubelet-tracing-operator-agent" --timeout "$TIMEOUT"

echo "--- apply $POLICY_FILE and wait for Ready"
kubectl apply -f "$POLICY_FILE"
kubectl wait "ntp/$POLICY" --for=condition=Ready --timeout "$TIMEOUT"
kubectl get ntp "$POLICY" -o wide

echo "--- read /configz on every node"
want_endpoint="$(kubectl get ntp "$POLICY" -o jsonpath='{.spec.tracing.endpoint}')"
want_rate="$(kubectl get ntp "$POLICY" -o jsonpath='{.spec.tracing.samplingRatePerMillion}')"
failed=0
for node in $(kubectl get nodes -o jsonpath='{.items[*].metadata.name}'); do
  tracing="$(kubectl get --raw "/api/v1/nodes/$node/proxy/configz" | jq -c '.kubeletconfig.tracing // empty')"
  state="$(kubectl get node "$node" -o jsonpath='{.metadata.annotations.nodetracing\.dev/state}')"
  if [ -z "$tracing" ]; then
    echo "FAIL $node: no tracing in /configz (agent state: ${state:-none})"; failed=1; continue
  fi
  got_endpoint="$(jq -r '.endpoint // ""' <<<"$tracing")"
  got_rate="$(jq -r '.samplingRatePerMillion // 0' <<<"$tracing")"
  if [ "$got_endpoint" != "$want_endpoint" ] || [ "$got_rate" != "${want_rate:-0}" ]; then
    echo "FAIL $node: /configz tracing $tracing, want endpoint=$want_endpoint samplingRatePerMillion=$want_rate"; failed=1
  else
    echo "ok   $node: $tracing (agent state: $state)"
  fi
done

echo "--- the agent guard: an agent token may not touch another node"
first_node="$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')"
agent_pod="$(kubectl -n "$NAMESPACE" get pods -l app.kubernetes.io/component=agent \
  --field-selector "spec.nodeName!=$first_node" -o jsonpath='{.items[0].metadata.name}')"
if kubectl -n "$NAMESPACE" exec "$agent_pod" -- node -e '
  const fs = require("fs");
  const token = fs.readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/token", "utf8");
  const ca = fs.readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  const https = require("https");
  const body = JSON.stringify({ metadata: { annotations: { "nodetracing.dev/state": "Applied" } } });
  const req = https.request({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,
    path: "/api/v1/nodes/" + process.argv[1], method: "PATCH", ca,
    headers: { authorization: "Bearer " + token, "content-type": "application/merge-patch+json" } },
    (res) => { console.log("status", res.statusCode); process.exit(res.statusCode === 200 ? 0 : 1); });
  req.end(body);' "$first_node"; then
  echo "FAIL: the agent on another node could patch $first_node"; failed=1
else
  echo "ok   the guard denied a cross-node patch"
fi

if [ "$failed" -ne 0 ]; then exit 1; fi
echo "--- e2e passed"
