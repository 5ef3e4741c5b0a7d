// Realistic Node objects for the embedded cluster: labels, conditions, addresses, capacity and an
// image list, a few KB each, as a kubeadm/EKS node reports them.
import { createHash } from 'node:crypto';
import { deepFreeze } from '../util/freeze.js';

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const IMAGES = [
  ['registry.k8s.io/kube-proxy', 30_000_000], ['registry.k8s.io/pause', 300_000], ['docker.io/calico/node', 110_000_000],
  ['docker.io/calico/cni', 90_000_000], ['registry.k8s.io/coredns/coredns', 16_000_000], ['quay.io/prometheus/node-exporter', 12_000_000],
  ['otel/opentelemetry-collector-contrib', 80_000_000], ['docker.io/library/nginx', 70_000_000], ['ghcr.io/example/api', 120_000_000],
  ['ghcr.io/example/worker', 140_000_000], ['docker.io/library/redis', 45_000_000], ['docker.io/library/postgres', 150_000_000],
] as const;

/** What every node reports alike, built once and shared by every Node object: a stored object is
 *  never changed in place (a write stores a new object that keeps the parts it did not change),
 *  so 5,000 nodes hold one image list, not 5,000 copies of it. Frozen, so a change in place
 *  fails loudly instead of changing every node. */
const SHARED = deepFreeze({
  capacity: { cpu: '4', memory: '16314640Ki', pods: '110', 'ephemeral-storage': '102626232Ki' },
  allocatable: { cpu: '3800m', memory: '15700000Ki', pods: '110', 'ephemeral-storage': '94580335255' },
  daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
  // Real nodes list every image they hold (up to 50): the bulk of a Node's size. An image has
  // the same digest on every node that pulled it.
  images: Array.from({ length: 20 }, (_, j) => {
    const [image, size] = IMAGES[j % IMAGES.length] ?? ['registry.k8s.io/pause', 300_000];
    const digest = createHash('sha256').update(`${image}:v1.${j}.0`).digest('hex');
    return { names: [`${image}@sha256:${digest}`, `${image}:v1.${j}.0`], sizeBytes: size + j };
  }),
});

/** The embedded cluster's node names: node-01 .. node-NN, zero-padded to the widest. */
export function simNodeName(index: number, total: number): string {
  return `node-${String(index + 1).padStart(Math.max(2, String(total).length), '0')}`;
}

export function simNodeObject(name: string, index: number, kubeletVersion: string): Record<string, unknown> {
  const zone = ZONES[index % ZONES.length] ?? 'zone-a';
  const controlPlane = index === 0;
  const ip = `10.0.${Math.floor(index / 250)}.${(index % 250) + 2}`;
  const now = new Date().toISOString();
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now,
  });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': zone,
        'topology.kubernetes.io/region': 'sim-1',
        'node.kubernetes.io/instance-type': 'sim.large',
        ...(controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : { 'node-role.kubernetes.io/worker': '' }),
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
      },
    },
    spec: { podCIDR: `10.244.${index % 256}.0/24`, providerID: `sim://${name}` },
    status: {
      capacity: SHARED.capacity,
      allocatable: SHARED.allocatable,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }],
      daemonEndpoints: SHARED.daemonEndpoints,
      nodeInfo: {
        machineID: `${index}`.padStart(32, '0'),
        systemUUID: `00000000-0000-0000-0000-${String(index).padStart(12, '0')}`,
        bootID: `boot-${index}`,
        kernelVersion: '6.1.0-27-amd64',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.24',
        kubeletVersion,
        kubeProxyVersion: kubeletVersion,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images: SHARED.images,
    },
  };
}
