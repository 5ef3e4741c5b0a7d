// The hand-off protocol between controller and node agent: annotations on the Node object.
// The controller writes the DESIRED_* keys only for nodes the planner released; the agent writes
// the STATE/APPLIED_* keys for its own node only. Nothing else travels between them.
import { GROUP } from './types.js';

const p = `${GROUP}/`;
export const ANNOTATION_PREFIX = p;

/** Owning policy name (controller). */
export const A_POLICY = `${p}policy`;
/** Rendered drop-in (JSON of a KubeletConfiguration), or '' to remove ours (controller). */
export const A_DESIRED_CONFIG = `${p}desired-config`;
/** Hash of A_DESIRED_CONFIG; REMOVED_HASH when removing (controller). */
export const A_DESIRED_HASH = `${p}desired-hash`;
/** RFC 3339 time the controller released this node for A_DESIRED_HASH (controller). */
export const A_DESIRED_TIME = `${p}desired-time`;
/** W3C traceparent of the rollout span (controller). */
export const A_TRACEPARENT = `${p}traceparent`;
/** A drift repair: the A_STATE_TIME of the agent report (Drifted, or Applied when /configz
 *  disagreed) this release answers. The agent re-applies A_DESIRED_HASH, restarting the kubelet,
 *  only while its report still carries that time (controller). */
export const A_REPAIR = `${p}repair`;
/** Agent state: one of AgentState (agent). */
export const A_STATE = `${p}state`;
/** The desired hash that A_STATE refers to (agent). */
export const A_STATE_HASH = `${p}state-hash`;
/** Hash the agent last applied successfully (agent). */
export const A_APPLIED_HASH = `${p}applied-hash`;
/** Human-readable reason for Failed / RolledBack, and what changed for Drifted (agent). */
export const A_MESSAGE = `${p}message`;
/** RFC 3339 time of the last agent state change (agent). */
export const A_STATE_TIME = `${p}state-time`;

export const REMOVED_HASH = 'removed';

/** Drifted: the agent applied A_STATE_HASH, and what it owns on disk no longer says so (an
 *  edited, deleted or reappeared drop-in, rewritten managed keys of the main config). */
export type AgentState = 'Applying' | 'Applied' | 'Failed' | 'RolledBack' | 'Drifted';
export const AGENT_STATES: readonly AgentState[] = ['Applying', 'Applied', 'Failed', 'RolledBack', 'Drifted'];

/** Name of the drop-in file the agent owns in the kubelet's --config-dir. */
export const DROPIN_FILE = '90-nodetracing.conf';
