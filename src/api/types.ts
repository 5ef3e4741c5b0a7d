// NodeTracingPolicy: nodetracing.dev/v1alpha1, cluster-scoped. The JSON schema in ./schema.ts is
// the single source for the CRD and the runtime validator; these types mirror it.

export const GROUP = 'nodetracing.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'NodeTracingPolicy';
export const PLURAL = 'nodetracingpolicies';
export const SINGULAR = 'nodetracingpolicy';
export const SHORT_NAME = 'ntp';
export const FINALIZER = `${GROUP}/cleanup`;

export type FeatureGateMode = 'Auto' | 'Always' | 'Never';
export type VerifyMode = 'AgentReport' | 'Configz';
/** What the controller does about a node whose configuration drifted from what was rolled out. */
export type DriftMode = 'Repair' | 'Report';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface TracingSpec {
  endpoint?: string;
  samplingRatePerMillion?: number;
}

export interface RolloutSpec {
  maxUnavailable?: number | string;
  paused?: boolean;
  minReadySeconds?: number;
  nodeTimeoutSeconds?: number;
  maxFailures?: number;
  verify?: VerifyMode;
  drift?: DriftMode;
}

export interface NodeTracingPolicySpec {
  nodeSelector?: LabelSelector;
  tracing: TracingSpec;
  featureGate?: FeatureGateMode;
  priority?: number;
  rollout?: RolloutSpec;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** A selected node whose kubelet cannot take the configuration. */
export interface UnsupportedNodeStatus {
  node: string;
  kubeletVersion: string;
  message: string;
}

/** A target node the rollout gave up on: RolledBack (the agent restored the old config), Failed
 *  (could not apply or roll back, or /configz disagreed), TimedOut (no result in time). */
export interface FailedNodeStatus {
  node: string;
  reason: 'RolledBack' | 'Failed' | 'TimedOut';
  /** The agent's (the kubelet's) own words. */
  message?: string;
}

/** A target node whose configuration no longer matches what was rolled out to it. */
export interface DriftedNodeStatus {
  node: string;
  /** What changed, in the agent's words (or how /configz disagrees). */
  message: string;
}

/** A selected node that another policy owns. */
export interface ConflictingNodeStatus {
  node: string;
  ownedBy: string;
}

export interface NodeTracingPolicyStatus {
  observedGeneration?: number;
  configHash?: string;
  targetNodes?: number;
  updatedNodes?: number;
  failedNodes?: number;
  unsupportedNodes?: number;
  conflictingNodes?: number;
  driftedNodes?: number;
  /** The first STATUS_LIST_MAX of each, by node name; the counts above give the totals. */
  failures?: FailedNodeStatus[];
  drifted?: DriftedNodeStatus[];
  unsupported?: UnsupportedNodeStatus[];
  conflicts?: ConflictingNodeStatus[];
  conditions?: Condition[];
}

export interface ObjectMeta {
  name?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface NodeTracingPolicy {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: NodeTracingPolicySpec;
  status?: NodeTracingPolicyStatus;
}

/** Spec with every default applied: what render/plan work from. */
export interface ResolvedRollout {
  maxUnavailable: number | string;
  paused: boolean;
  minReadySeconds: number;
  nodeTimeoutSeconds: number;
  maxFailures: number;
  verify: VerifyMode;
  drift: DriftMode;
}

export const ROLLOUT_DEFAULTS: ResolvedRollout = {
  maxUnavailable: 1,
  paused: false,
  minReadySeconds: 30,
  nodeTimeoutSeconds: 300,
  maxFailures: 0,
  verify: 'AgentReport',
  drift: 'Repair',
};

export function resolveRollout(spec: NodeTracingPolicySpec): ResolvedRollout {
  return { ...ROLLOUT_DEFAULTS, ...(spec.rollout ?? {}) };
}
