// The one schema of NodeTracingPolicy. The CRD (crds/, via `kto crd` / hack/gen-crd.ts) and the
// runtime ajv validator (src/validate/policy.ts) are both produced from this object, so the
// cluster and the CLI can never disagree on what a valid policy is.
// It is a structural OpenAPI v3 schema (every node typed, no $ref), which keeps it usable as
// both a CRD openAPIV3Schema and a JSON Schema for ajv.

import { LABEL_VALUE_PATTERN, NAME_PATTERN, endpointRules, labelKeyRule, matchLabelsKeysRule, requirementValuesRule } from './rules.js';

export type JsonSchema = { [key: string]: unknown };

const MAX_UNAVAILABLE_PATTERN = '^([1-9][0-9]?|100)%$';
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** Bounds the CEL cost estimate of the key rule (a real server rejects a CRD whose rules may cost too much). */
const MAX_MATCH_LABELS = 64;
export const ENDPOINT_MAX_LENGTH = 512;
export const RATE_MAX = 1_000_000;

const labelSelector: JsonSchema = {
  type: 'object',
  description:
    'Selects the nodes this policy configures (a metav1.LabelSelector). An empty selector {} selects every node.',
  additionalProperties: false,
  properties: {
    matchLabels: {
      type: 'object',
      description: 'Label key/value pairs a node must all carry.',
      maxProperties: MAX_MATCH_LABELS,
      additionalProperties: { type: 'string', maxLength: 63, pattern: LABEL_VALUE_PATTERN },
      'x-kubernetes-validations': [matchLabelsKeysRule],
    },
    matchExpressions: {
      type: 'array',
      maxItems: 32,
      description: 'Label requirements a node must all satisfy.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        'x-kubernetes-validations': [requirementValuesRule],
        properties: {
          key: {
            type: 'string',
            minLength: 1,
            maxLength: 317,
            description: 'The label key.',
            'x-kubernetes-validations': [labelKeyRule],
          },
          operator: {
            type: 'string',
            enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
            description: 'In and NotIn need values; Exists and DoesNotExist take none.',
          },
          values: {
            type: 'array',
            maxItems: 256,
            items: { type: 'string', maxLength: 63, pattern: LABEL_VALUE_PATTERN },
            description: 'The values for In and NotIn.',
          },
        },
      },
    },
  },
};

const tracing: JsonSchema = {
  type: 'object',
  description:
    'The KubeletConfiguration tracing stanza (KEP-2831) rendered onto every selected node. May be {} for the kubelet defaults.',
  additionalProperties: false,
  properties: {
    endpoint: {
      type: 'string',
      minLength: 1,
      maxLength: ENDPOINT_MAX_LENGTH,
      description:
        'OTLP gRPC collector endpoint as a gRPC target: host:port (e.g. otel-collector.observability.svc:4317), dns:///host:port, dns://dns-server/host:port, unix:///path or unix:/path. http://, https:// and grpc:// are rejected by the kubelet; dns://host:port names a DNS server and no target. Unset: the kubelet default localhost:4317.',
      'x-kubernetes-validations': endpointRules,
    },
    samplingRatePerMillion: {
      type: 'integer',
      minimum: 0,
      maximum: RATE_MAX,
      description:
        'Spans sampled per million. 0 (the default) records only spans whose parent was sampled.',
    },
  },
};

const rollout: JsonSchema = {
  type: 'object',
  description: 'How the kubelet restarts are rolled across the selected nodes.',
  additionalProperties: false,
  properties: {
    maxUnavailable: {
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      // JSON Schema applies minimum to numbers only and pattern to strings only.
      minimum: 1,
      pattern: MAX_UNAVAILABLE_PATTERN,
      default: 1,
      description:
        'Most nodes restarting, soaking, failed or not Ready at once: an integer >= 1 or a percentage "1%".."100%" of the target nodes (rounded down, at least 1).',
    },
    paused: { type: 'boolean', default: false, description: 'Stop releasing new nodes; nodes in progress finish.' },
    minReadySeconds: {
      type: 'integer',
      minimum: 0,
      default: 30,
      description: 'Soak time after a node is verified before it frees its slot.',
    },
    nodeTimeoutSeconds: {
      type: 'integer',
      minimum: 1,
      default: 300,
      description: 'A node not verified within this time of being released counts as failed.',
    },
    maxFailures: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Failed nodes tolerated before the rollout halts (Degraded).',
    },
    verify: {
      type: 'string',
      enum: ['AgentReport', 'Configz'],
      default: 'AgentReport',
      description:
        'AgentReport trusts the node agent and node Ready; Configz also reads the kubelet /configz through the API server (needs get on nodes/proxy).',
    },
    drift: {
      type: 'string',
      enum: ['Repair', 'Report'],
      default: 'Repair',
      description:
        'What to do about a node whose configuration drifted from what was rolled out to it (its drop-in edited, deleted or back after removal, the managed keys of its main config rewritten, or with verify: Configz its kubelet running another config): Repair hands the node its config again in one kubelet restart, within maxUnavailable and not while paused; Report only reports it (the node\'s nodetracing.dev/state Drifted, a Warning event, status.drifted, kto_drifted_nodes).',
    },
  },
};

const spec: JsonSchema = {
  type: 'object',
  description: 'What tracing configuration the selected nodes get, and how it is rolled out.',
  additionalProperties: false,
  required: ['tracing'],
  properties: {
    nodeSelector: labelSelector,
    tracing,
    featureGate: {
      type: 'string',
      enum: ['Auto', 'Always', 'Never'],
      default: 'Auto',
      description:
        'KubeletTracing feature gate: Auto writes it only where the kubelet needs it (1.25-1.26); Always writes it where it can still be turned off (1.25-1.33: from 1.34 it is locked on, and a kubelet upgraded within the version skew to 1.37 would refuse to start on it); Never never writes it (1.25-1.26 nodes are then Unsupported).',
    },
    priority: {
      type: 'integer',
      format: 'int32',
      minimum: INT32_MIN,
      maximum: INT32_MAX,
      default: 0,
      description: 'When policies overlap on a node, the highest priority wins, then the first name; losers report Conflict.',
    },
    rollout,
  },
};

const condition: JsonSchema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
  },
};

const count = (d: string): JsonSchema => ({ type: 'integer', minimum: 0, description: d });

/** How many nodes each status list names. Like the kubelet's cap on node.status.images
 *  (nodeStatusMaxImages, 50), a bound keeps the object small at 5,000 nodes; the count fields
 *  carry the totals. */
export const STATUS_LIST_MAX = 20;
export const STATUS_MESSAGE_MAX = 1024;

const nodeList = (description: string, properties: Record<string, JsonSchema>, required: string[]): JsonSchema => ({
  type: 'array',
  description: `${description} The first ${STATUS_LIST_MAX} by node name.`,
  maxItems: STATUS_LIST_MAX,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['node'],
  items: {
    type: 'object',
    required: ['node', ...required],
    properties: { node: { type: 'string', maxLength: 253, description: 'The Node name.' }, ...properties },
  },
});

const status: JsonSchema = {
  type: 'object',
  description: 'Observed state, written by the controller only (kstatus-compatible).',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0, description: 'The generation this status describes.' },
    configHash: { type: 'string', description: 'Hash of the rendered intent.' },
    targetNodes: count('Nodes this policy owns (selected, not lost to a higher-priority policy).'),
    updatedNodes: count('Target nodes verified with the current configuration.'),
    failedNodes: count('Target nodes whose apply failed or timed out (rolled back).'),
    unsupportedNodes: count('Target nodes whose kubelet cannot take this configuration.'),
    conflictingNodes: count('Selected nodes that another policy owns (higher priority, or the same priority and a name sorting first).'),
    driftedNodes: count('Target nodes whose configuration drifted from what was rolled out to them, not (yet) repaired.'),
    failures: nodeList('Failed target nodes (failedNodes is the total), each with why.', {
      reason: { type: 'string', enum: ['RolledBack', 'Failed', 'TimedOut'], description: 'RolledBack: the kubelet was unhealthy on the new config and the agent restored the old one; Failed: the agent could not apply or roll back, or /configz disagreed; TimedOut: no result within nodeTimeoutSeconds.' },
      message: { type: 'string', maxLength: STATUS_MESSAGE_MAX, description: "The agent's report, with the kubelet's own error." },
    }, ['reason']),
    drifted: nodeList('Drifted target nodes (driftedNodes is the total), each with what changed.', {
      message: { type: 'string', maxLength: STATUS_MESSAGE_MAX, description: "What changed on the node, in its agent's words, or how its kubelet's /configz disagrees." },
    }, ['message']),
    unsupported: nodeList('Unsupported nodes (unsupportedNodes is the total), each with why.', {
      kubeletVersion: { type: 'string', maxLength: 253, description: "The node's kubelet version (status.nodeInfo.kubeletVersion)." },
      message: { type: 'string', maxLength: STATUS_MESSAGE_MAX, description: 'Why that kubelet cannot take the configuration.' },
    }, ['kubeletVersion', 'message']),
    conflicts: nodeList('Selected nodes that another policy owns (conflictingNodes is the total).', {
      ownedBy: { type: 'string', maxLength: 253, description: 'The policy that owns the node.' },
    }, ['ownedBy']),
    conditions: {
      type: 'array',
      description: 'Ready, Reconciling, Stalled, Degraded, Conflict (metav1.Condition).',
      items: condition,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
  },
};

/** openAPIV3Schema of the CRD; metadata is the API server's business there. */
export const crdSchema: JsonSchema = {
  type: 'object',
  description:
    'NodeTracingPolicy turns on kubelet tracing (KEP-2831) on the nodes it selects and rolls the kubelet restarts across them safely.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string', description: 'nodetracing.dev/v1alpha1' },
    kind: { type: 'string', description: 'NodeTracingPolicy' },
    metadata: { type: 'object' },
    spec,
    status,
  },
};

/** The same schema for documents read from files, where metadata and kind are ours to check. */
export const documentSchema: JsonSchema = {
  ...crdSchema,
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    ...(crdSchema.properties as JsonSchema),
    apiVersion: { type: 'string', const: 'nodetracing.dev/v1alpha1' },
    kind: { type: 'string', const: 'NodeTracingPolicy' },
    // ObjectMeta as the API server decodes it: its own fields only (kubectl apply's strict field
    // validation rejects others), a name that is a DNS subdomain.
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 253, pattern: NAME_PATTERN },
        generateName: { type: 'string' },
        namespace: { type: 'string' },
        selfLink: { type: 'string' },
        uid: { type: 'string' },
        resourceVersion: { type: 'string' },
        generation: { type: 'integer' },
        creationTimestamp: { type: ['string', 'null'] },
        deletionTimestamp: { type: ['string', 'null'] },
        deletionGracePeriodSeconds: { type: 'integer' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
        ownerReferences: { type: 'array', items: { type: 'object' } },
        finalizers: { type: 'array', items: { type: 'string' } },
        managedFields: { type: 'array', items: { type: 'object' } },
      },
    },
  },
};
