// kto status [POLICY]: a rollout at a glance. Reads the policies and the Nodes (never writes);
// -w follows both with informers and redraws on every change.
import * as k8s from '@kubernetes/client-node';
import type { NodeTracingPolicy } from '../api/types.js';
import { trimNode, type CachedNode } from '../controller/nodes.js';
import { loadKubeConfig } from '../kube/client.js';
import { startInformer, type Informer } from '../kube/informer.js';
import { policyView, type NodeRow, type PolicyView } from '../inspect/rollout-view.js';
import { humanDuration } from '../util/duration.js';
import { apiError, NO_CRD, plain, policyList, POLICIES_PATH, readCluster } from './cluster.js';
import { formatted, stdio, type Output, type OutputFormat } from './output.js';
import { untilSignal } from './signals.js';
import { oneLine, table } from './table.js';

export interface StatusFlags {
  kubeconfig?: string;
  watch?: boolean;
  output?: OutputFormat;
}

const SUMMARY_HEADER = ['NAME', 'TARGET', 'UPDATED', 'IN-PROGRESS', 'FAILED', 'UNSUPPORTED', 'CONFLICT', 'READY', 'REASON'];

function summaryRow(v: PolicyView): string[] {
  const c = v.counts;
  const reason = v.invalid ? 'InvalidSpec' : (v.ready?.reason ?? '<none yet>');
  return [v.name, ...[c.target, c.updated, c.inProgress, c.failed, c.unsupported, c.conflict].map(String), v.ready?.status ?? 'Unknown', reason];
}

function phaseText(r: NodeRow): string {
  return r.ready ? r.phase : `${r.phase},NotReady`;
}

function nodeRow(r: NodeRow, now: number): string[] {
  const message = r.failure === 'TimedOut' && !r.message ? 'timed out: no result from its agent within nodeTimeoutSeconds' : oneLine(r.message);
  return [
    r.node, r.kubeletVersion, phaseText(r), r.agentState ?? '-', r.appliedHash ?? '-', r.desiredHash,
    r.since ? humanDuration(now - Date.parse(r.since)) : '-', message,
  ];
}

/** The summary table of every policy. */
export function formatSummary(views: PolicyView[]): string {
  if (views.length === 0) return 'No NodeTracingPolicy found.\n';
  return table(SUMMARY_HEADER, views.map(summaryRow));
}

/** One policy: its summary line, what the controller says, every node, and who is left out. */
export function formatPolicy(v: PolicyView, now: number): string {
  const parts = [table(SUMMARY_HEADER, [summaryRow(v)])];
  const notes: string[] = [];
  if (v.invalid) notes.push(`Invalid spec: ${v.invalid}`, 'The controller acts on none of its nodes until the spec is fixed.');
  if (v.ready) notes.push(`Ready=${v.ready.status} ${v.ready.reason}: ${v.ready.message}`);
  if (v.observedGeneration !== undefined && v.observedGeneration < v.generation) {
    notes.push(`The status describes generation ${v.observedGeneration}; the spec is at ${v.generation} (the controller has not caught up).`);
  }
  if (v.deleting) notes.push('Being deleted: its drop-ins come off with the same rolling rules.');
  if (v.paused && !v.deleting) notes.push('Paused (spec.rollout.paused): no node is released.');
  if (v.counts.drifted > 0) {
    const what = v.drift === 'Report' ? 'only reported (spec.rollout.drift: Report)' : v.paused ? 'repaired once resumed' : 'being repaired, within maxUnavailable';
    notes.push(`${v.counts.drifted} node(s) drifted from the configuration rolled out to them (phase Drifted, what changed in MESSAGE): ${what}.`);
  }
  if (notes.length) parts.push(notes.join('\n') + '\n');
  if (v.nodes.length) {
    parts.push(table(['NODE', 'KUBELET', 'PHASE', 'AGENT', 'APPLIED', 'DESIRED', 'SINCE', 'MESSAGE'], v.nodes.map((r) => nodeRow(r, now))));
  } else if (!v.invalid) {
    parts.push('No node to configure.\n');
  }
  if (v.unsupported.length) {
    parts.push(`Unsupported (${v.unsupported.length}):\n` + table(['NODE', 'KUBELET', 'WHY'], v.unsupported.map((u) => [u.node, u.kubeletVersion, u.message])));
  }
  if (v.conflicts.length) {
    parts.push(`Owned by another policy (${v.conflicts.length}):\n` + table(['NODE', 'OWNED-BY', 'WHY'], v.conflicts.map((c) => [c.node, c.ownedBy, c.why])));
  }
  return parts.join('\n');
}

/** What -o json|yaml prints: the summaries of all, or one policy in full. */
function document(views: PolicyView[], name: string | undefined): unknown {
  if (name !== undefined) return views[0];
  return { policies: views.map(({ nodes: _n, unsupported: _u, conflicts: _c, requeueAfterMs: _r, ...summary }) => summary) };
}

function views(policies: NodeTracingPolicy[], nodes: CachedNode[], name: string | undefined, now: number): PolicyView[] | undefined {
  const sorted = [...policies].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  const chosen = name === undefined ? sorted : sorted.filter((p) => p.metadata.name === name);
  if (name !== undefined && chosen.length === 0) return undefined;
  return chosen.map((p) => policyView(p, policies, nodes, now));
}

function render(vs: PolicyView[], name: string | undefined, f: StatusFlags, now: number): string {
  if (f.output) return formatted(document(vs, name), f.output);
  const [one] = vs;
  return name !== undefined && one ? formatPolicy(one, now) : formatSummary(vs);
}

export async function statusCommand(name: string | undefined, f: StatusFlags, io: Output = stdio): Promise<number> {
  const kc = loadKubeConfig(f.kubeconfig);
  let first;
  try {
    first = await readCluster(kc);
  } catch (err) {
    io.err(`kto status: ${apiError(err)}\n`);
    return 1;
  }
  if (first.noCrd) {
    io.err(`kto status: ${NO_CRD}\n`);
    return 1;
  }
  const now = Date.now();
  const vs = views(first.policies, first.nodes, name, now);
  if (!vs) {
    io.err(`kto status: no NodeTracingPolicy named ${JSON.stringify(name)}\n`);
    return 1;
  }
  if (!f.watch) {
    io.out(render(vs, name, f, now));
    return 0;
  }
  return follow(kc, name, f, io);
}

/** -w: informers on policies and Nodes; a redraw on each change, and when a phase changes by time
 *  alone (a soak ends, a node times out). On a terminal the screen is redrawn in place (each
 *  second, for the ages); otherwise a new block is printed only when something changed. Ends on
 *  SIGINT or SIGTERM. */
async function follow(kc: k8s.KubeConfig, name: string | undefined, f: StatusFlags, io: Output): Promise<number> {
  // @types/node says boolean; it is undefined off a terminal.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion
  const tty = Boolean(process.stdout.isTTY) && !f.output;
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  const draw = () => {
    clearTimeout(timer);
    timer = undefined;
    const now = Date.now();
    const vs = views(policies.list(), nodes.list(), name, now) ?? [];
    const signature = JSON.stringify(vs.map(({ requeueAfterMs: _r, ...v }) => v));
    const next = Math.min(...vs.map((v) => v.requeueAfterMs ?? Infinity), tty ? 1000 : Infinity);
    if (Number.isFinite(next)) timer = setTimeout(draw, Math.max(50, next + 5));
    if (!tty && signature === last) return;
    last = signature;
    const body = name !== undefined && vs.length === 0 ? `NodeTracingPolicy ${name} not found (deleted?)\n`
      : f.output === 'json' ? `${JSON.stringify(document(vs, name))}\n`
        : f.output === 'yaml' ? `---\n${formatted(document(vs, name), 'yaml')}`
          : render(vs, name, f, now);
    io.out(tty ? `\x1b[H\x1b[2J${body}` : f.output ? body : `${body}\n`);
  };
  let settle: NodeJS.Timeout | undefined;
  const changed = () => {
    if (!synced) return;
    clearTimeout(settle);
    settle = setTimeout(draw, 100);
  };
  let synced = false;
  const policies: Informer<NodeTracingPolicy> = startInformer<NodeTracingPolicy, NodeTracingPolicy>({
    kubeConfig: kc, path: POLICIES_PATH, listFn: policyList(kc), transform: plain, onAdd: changed, onUpdate: changed, onDelete: changed,
  });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const nodes: Informer<CachedNode> = startInformer<k8s.V1Node, CachedNode>({
    kubeConfig: kc, path: '/api/v1/nodes', listFn: (req) => core.listNode(req), transform: trimNode, onAdd: changed, onUpdate: changed, onDelete: changed,
  });
  const stop = untilSignal();
  await Promise.race([Promise.all([policies.synced, nodes.synced]), stop]);
  synced = true;
  draw();
  await stop;
  clearTimeout(timer);
  clearTimeout(settle);
  policies.stop();
  nodes.stop();
  return 0;
}
