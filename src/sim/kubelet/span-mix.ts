// The spans an idle kubelet with tracing on starts by itself, named as the real one names them:
// its CRI client is wrapped in otelgrpc (span name = full gRPC method without the leading "/",
// e.g. runtime.v1.RuntimeService/ListPodSandbox; see k8s.io/cri-client remote_runtime.go) and its
// API client in otelhttp via component-base tracing.WrapperFor ("HTTP " + method; see
// cmd/kubelet/app/server.go buildKubeletClientConfig). Every one of them is a root span (the
// PLEG relist, the runtime health check and the node lease run from background loops), so the
// sampler decides each on its own trace ID.
import { type Attributes, SpanKind } from '@opentelemetry/api';

export const OTELGRPC_SCOPE = 'go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc';
export const OTELHTTP_SCOPE = 'go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp';

export interface KubeletSpan {
  name: string;
  scope: typeof OTELGRPC_SCOPE | typeof OTELHTTP_SCOPE;
  kind: SpanKind;
  durationMs: number;
  /** Attributes for the span of `node`; the same object for every span of a node (never mutated). */
  attributes(node: string): Attributes;
}

function cri(service: 'RuntimeService' | 'ImageService', method: string, durationMs: number): KubeletSpan {
  const attributes: Attributes = Object.freeze({
    'rpc.system': 'grpc',
    'rpc.service': `runtime.v1.${service}`,
    'rpc.method': method,
    'rpc.grpc.status_code': 0,
  });
  return { name: `runtime.v1.${service}/${method}`, scope: OTELGRPC_SCOPE, kind: SpanKind.CLIENT, durationMs, attributes: () => attributes };
}

/** The API server as a kubeadm node's kubeconfig names it. */
const API_SERVER = { host: '10.0.0.1', port: 6443 };

function api(method: 'GET' | 'PUT', path: (node: string) => string, durationMs: number): KubeletSpan {
  const byNode = new Map<string, Attributes>();
  return {
    name: `HTTP ${method}`,
    scope: OTELHTTP_SCOPE,
    kind: SpanKind.CLIENT,
    durationMs,
    attributes(node) {
      let a = byNode.get(node);
      if (!a) {
        a = Object.freeze({
          'http.request.method': method,
          'url.full': `https://${API_SERVER.host}:${API_SERVER.port}${path(node)}`,
          'server.address': API_SERVER.host,
          'server.port': API_SERVER.port,
          'http.response.status_code': 200,
        });
        byNode.set(node, a);
      }
      return a;
    },
  };
}

const LIST_SANDBOXES = cri('RuntimeService', 'ListPodSandbox', 1);
const LIST_CONTAINERS = cri('RuntimeService', 'ListContainers', 2);
const RUNTIME_STATUS = cri('RuntimeService', 'Status', 1);
const IMAGE_FS = cri('ImageService', 'ImageFsInfo', 3);
const SANDBOX_STATS = cri('RuntimeService', 'ListPodSandboxStats', 5);
const CONTAINER_STATS = cri('RuntimeService', 'ListContainerStats', 5);
const RENEW_LEASE = api('PUT', (n) => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n}?timeout=10s`, 4);
const GET_NODE = api('GET', (n) => `/api/v1/nodes/${n}?resourceVersion=0&timeout=10s`, 3);

/**
 * Ten seconds of an idle kubelet, in order: the PLEG relist every second (ListPodSandbox,
 * ListContainers), the runtime status check every 5 s, image-fs and container stats, the node
 * lease renewal and the node status read every 10 s. A simulated kubelet cycles through it at
 * the sim's span rate; only the tempo changes, not the mix.
 */
export const KUBELET_SPAN_CYCLE: readonly KubeletSpan[] = Array.from({ length: 10 }, (_, second) => [
  LIST_SANDBOXES,
  LIST_CONTAINERS,
  ...(second % 5 === 0 ? [RUNTIME_STATUS] : []),
  ...(second === 2 ? [RENEW_LEASE] : []),
  ...(second === 3 ? [IMAGE_FS] : []),
  ...(second === 7 ? [SANDBOX_STATS, CONTAINER_STATS] : []),
  ...(second === 8 ? [GET_NODE] : []),
]).flat();

/** An idle kubelet's own span rate: the cycle covers ten seconds. */
export const IDLE_KUBELET_SPANS_PER_SECOND = KUBELET_SPAN_CYCLE.length / 10;
