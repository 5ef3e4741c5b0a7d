// kto plan -f FILE: what applying these policies would do to the cluster, before it is done (the
// counterpart of `kubectl diff` for a GitOps review). Reads the policies and the Nodes; writes
// nothing. Exit 0 for a plan, 1 when a policy is invalid (the messages of kto validate) or the
// cluster cannot be read.
import { stringify } from 'yaml';
import { DROPIN_FILE } from '../api/annotations.js';
import { loadKubeConfig } from '../kube/client.js';
import { planPolicies, type PlanReport, type PolicyPlan } from '../inspect/plan.js';
import { humanDuration } from '../util/duration.js';
import { formatFieldError } from '../validate/errors.js';
import { apiError, NO_CRD, readCluster } from './cluster.js';
import { describeSkipped, readPolicySources } from './documents.js';
import { formatted, stdio, type Output, type OutputFormat } from './output.js';
import { firstOf, table } from './table.js';

export interface PlanFlags {
  filename: string[];
  kubeconfig?: string;
  output?: OutputFormat;
  restartSeconds: number;
}

/** Lists longer than this are cut short in text (-o json has them all). */
const TEXT_MAX = 50;

export async function planCommand(f: PlanFlags, io: Output = stdio): Promise<number> {
  const { documents, skipped } = await readPolicySources(f.filename);
  const invalid = documents.filter((d) => d.errors.length > 0);
  for (const d of invalid) for (const e of d.errors) io.err(`${d.file}: ${d.name}: ${formatFieldError(e)}\n`);
  if (invalid.length > 0) return 1;
  const policies = documents.flatMap((d) => (d.policy ? [d.policy] : []));
  if (policies.length === 0) {
    io.err(`kto plan: no NodeTracingPolicy in ${f.filename.join(', ')}${skipped.length ? ` (${describeSkipped(skipped)})` : ''}\n`);
    return 1;
  }
  const seen = new Set<string>();
  for (const p of policies) {
    const name = p.metadata.name ?? '';
    if (seen.has(name)) {
      io.err(`kto plan: two policies named ${JSON.stringify(name)}: a name is one object in the cluster\n`);
      return 1;
    }
    seen.add(name);
  }
  const kc = loadKubeConfig(f.kubeconfig);
  let cluster;
  try {
    cluster = await readCluster(kc);
  } catch (err) {
    io.err(`kto plan: ${apiError(err)}\n`);
    return 1;
  }
  const report = planPolicies({ planned: policies, cluster: cluster.policies, nodes: cluster.nodes, now: Date.now(), restartSeconds: f.restartSeconds });
  if (f.output) {
    io.out(formatted({ ...report, skipped: skipped.length, crdInstalled: !cluster.noCrd }, f.output));
    return 0;
  }
  if (skipped.length) io.out(`${describeSkipped(skipped)}\n\n`);
  if (cluster.noCrd) io.out(`Note: ${NO_CRD}; planned as if it were, with no other policy.\n\n`);
  io.out(formatPlan(report));
  return 0;
}

function names(items: string[]): string {
  const { shown, more } = firstOf(items, TEXT_MAX);
  return `${shown.join(', ')}${more ? ` and ${more} more` : ''}`;
}

function limited(header: string[], rows: string[][]): string {
  const { shown, more } = firstOf(rows, TEXT_MAX);
  return table(header, shown) + (more ? `... and ${more} more (-o json lists every one)\n` : '');
}

export function formatDuration(seconds: number): string {
  return seconds === 0 ? '0s' : humanDuration(seconds * 1000);
}

function formatOne(p: PolicyPlan): string {
  const c = p.counts;
  const what = !p.existing ? 'a new policy' : p.specChanged ? 'changes the existing policy' : 'the same spec as the existing policy';
  const out: string[] = [`NodeTracingPolicy ${p.name}: ${what} (config hash ${p.configHash})\n`];
  const changes = [`${c.new} new`, `${c.changed} changed`, `${c.unchanged} unchanged`];
  if (c.inProgress) changes.push(`${c.inProgress} already in progress`);
  if (c.failed) changes.push(`${c.failed} failed on this very configuration (not retried)`);
  out.push(`Targets ${c.targets} node(s): ${changes.join(', ')}; ${c.unsupported} unsupported; ${c.conflicts} owned by another policy; ${c.dropped} dropped\n`);
  if (p.targets.length) {
    out.push(limited(['NODE', 'KUBELET', 'CHANGE', 'NOW', 'THEN'], p.targets.map((t) => [
      t.node, t.kubeletVersion, t.change, t.now ? `${t.now.policy ?? '?'} ${t.now.appliedHash}` : '-', `${p.name} ${t.hash}`,
    ])));
  }
  if (p.dropped.length) out.push(`Dropped (${p.dropped.length}): nodes it owns or configures now and would not configure:\n` + limited(['NODE', 'NOW', 'THEN'], p.dropped.map((d) => [d.node, d.appliedHash ? `${p.name} ${d.appliedHash}` : '-', d.then])));
  if (p.taken.length) out.push(`Taken from other policies (${p.taken.length}):\n` + limited(['NODE', 'FROM', 'WHY'], p.taken.map((t) => [t.node, t.from, t.why])));
  if (p.unsupported.length) out.push(`Unsupported (${p.unsupported.length}): never touched:\n` + limited(['NODE', 'KUBELET', 'WHY'], p.unsupported.map((u) => [u.node, u.kubeletVersion, u.message])));
  if (p.conflicts.length) out.push(`Owned by another policy (${p.conflicts.length}): left alone:\n` + limited(['NODE', 'OWNED-BY', 'WHY'], p.conflicts.map((x) => [x.node, x.ownedBy, x.why])));
  if (p.dropins.length) {
    const printed = new Map<string, string>();
    const blocks = p.dropins.map((d) => {
      const head = `kubelet ${d.kubeletVersion} (${d.nodes.length}: ${names(d.nodes)}): config ${d.hash}`;
      const same = printed.get(d.hash);
      if (same) return `${head}, the same drop-in as ${same}\n`;
      printed.set(d.hash, d.kubeletVersion);
      return `${head}\n${stringify(d.config).replace(/^/gm, '    ').trimEnd()}\n`;
    });
    out.push(`Drop-in ${DROPIN_FILE} (in each kubelet's --config-dir), per kubelet version:\n${blocks.map((b) => `  ${b}`).join('')}`);
  }
  const r = p.rollout;
  const e = p.estimate;
  const rollout = [`Rollout: ${r.batches.flat().length} node(s) in ${r.batches.length} batch(es) of at most ${r.maxUnavailable} (maxUnavailable), in the planner's order${r.paused ? ' (paused now: nothing is released until spec.rollout.paused is false)' : ''}:`];
  const { shown, more } = firstOf(r.batches, TEXT_MAX);
  shown.forEach((b, i) => rollout.push(`  ${i + 1}. ${names(b)}`));
  if (more) rollout.push(`  ... and ${more} more batches`);
  if (r.waiting.length) rollout.push(`Not released as things are (not Ready, or failed nodes hold the slots): ${names(r.waiting)}`);
  rollout.push(`Estimated duration: ${e.batches} batch(es) x (${e.restartSeconds} s restart + ${e.minReadySeconds} s minReadySeconds) = ${formatDuration(e.seconds)}`);
  rollout.push('  (restart: --restart-seconds, the time from release to the agent reporting Applied; your cluster\'s kto_agent_apply_duration_seconds says what it is)');
  out.push(rollout.join('\n') + '\n');
  return out.join('\n');
}

export function formatPlan(report: PlanReport): string {
  const parts = report.policies.map(formatOne);
  if (report.others.length) {
    const lines = report.others.flatMap((o) => [
      ...(o.loses.length ? [`  ${o.policy} loses ${o.loses.length}: ${names(o.loses.map((l) => `${l.node} (to ${l.to || 'no policy'})`))}`] : []),
      ...(o.gains.length ? [`  ${o.policy} gains ${o.gains.length}: ${names(o.gains.map((g) => `${g.node} (from ${g.from || 'no policy'})`))}`] : []),
    ]);
    parts.push(`Other policies in the cluster:\n${lines.join('\n')}\n`);
  }
  return parts.join('\n');
}
