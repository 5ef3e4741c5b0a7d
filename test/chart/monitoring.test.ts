// The chart's alerts (metrics.prometheusRule) and Grafana dashboard (metrics.grafanaDashboard):
// what each value renders, and every PromQL expression and dashboard query linted against the
// metrics that exist: docs/metrics.md, which test/telemetry/metrics-docs.test.ts holds to the
// live /metrics of both processes.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DASHBOARD_FILE, generate as generateDashboard } from '../../hack/gen-dashboard.js';
import { AGENT_STATES } from '../../src/api/annotations.js';
import { desiredConditions } from '../../src/controller/status.js';
import { RELIST_REASONS } from '../../src/kube/informer.js';
import { CONDITION_STATUSES, NODE_PHASES, QUEUE_NAME, RECONCILE_RESULTS } from '../../src/telemetry/metrics.js';
import { queryableSeries } from '../helpers/metrics-doc.js';
import { type Known, lintPromQL } from '../helpers/promql-lint.js';
import { find, missingToolchain, one, render, renderRaw, ROOT, type K8sObject } from './render.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const CONDITION_TYPES = desiredConditions({
  generation: 1, configHash: 'h', target: 1, updated: 0, failed: 0, unsupported: 0, paused: false, halted: false, blocked: false,
  complete: false, deleting: false, maxFailures: 0, nodeTimeoutSeconds: 300, failures: [], conflicts: [], selected: 1,
}).map((c) => c.type);

const known: Known = {
  series: queryableSeries(),
  // What a ServiceMonitor / PodMonitor scrape adds (the PodMonitor relabels `node` in).
  targetLabels: new Set(['namespace', 'job', 'pod', 'instance', 'service', 'endpoint', 'container', 'node']),
  values: new Map<string, Set<string>>([
    ['phase', new Set(NODE_PHASES)],
    ['result', new Set(RECONCILE_RESULTS)],
    ['status', new Set(CONDITION_STATUSES)],
    ['type', new Set(CONDITION_TYPES)],
    ['reason', new Set(RELIST_REASONS)],
    ['state', new Set(AGENT_STATES.filter((s) => s !== 'Applying'))],
    ['name', new Set([QUEUE_NAME])],
    ['controller', new Set([QUEUE_NAME])],
  ]),
};

const ALERTS = ['KtoNoLeader', 'KtoRolloutStalled', 'KtoRolloutNotProgressing', 'KtoNodesFailed', 'KtoReconcileErrors', 'KtoSpanExportFailing'];
const rules = (o: K8sObject): any[] => (o as any).spec.groups.flatMap((g: any) => g.rules);

describe('the PromQL linter', () => {
  test('finds a misspelt metric, a label the metric lacks, a value it never has, a by() label nobody carries, a syntax error', () => {
    assert.deepEqual(lintPromQL('sum by (policy) (rate(kto_reconcile_total{result="error"}[5m])) > 0', known), []);
    assert.deepEqual(lintPromQL('histogram_quantile(0.9, sum by (le) (rate(kto_reconcile_duration_seconds_bucket[5m])))', known), []);
    assert.match(lintPromQL('rate(kto_reconciles_total[5m])', known).join(), /kto_reconciles_total: no such metric/);
    assert.match(lintPromQL('kto_leader{policy="p"}', known).join(), /kto_leader has no label policy/);
    assert.match(lintPromQL('kto_policy_nodes{phase=~"InProgress|failed"}', known).join(), /phase is never "failed"/);
    assert.match(lintPromQL('sum by (phase) (kto_leader)', known).join(), /by\/on \(phase\): no metric of the expression carries phase/);
    assert.match(lintPromQL('sum(rate(kto_leader[5m])', known).join(), /syntax error/);
    assert.match(lintPromQL('{__name__="kto_nope"}', known).join(), /kto_nope: no such metric/);
    assert.deepEqual(lintPromQL('kto_policy_condition{namespace="x", policy=~"a.*", type="Stalled"}', known), []);
  });
});

describe('metrics.prometheusRule', { skip: missingToolchain() }, () => {
  test('off by default; on: one group with every alert, each with for, severity, summary and description', () => {
    assert.equal(find(render().objects, 'PrometheusRule').length, 0);
    const rule = one(render({ metrics: { prometheusRule: { enabled: true, labels: { release: 'prom' } } } }, { namespace: 'tracing' }).objects, 'PrometheusRule');
    assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(rule.metadata.namespace, 'tracing');
    assert.equal(rule.metadata.labels?.['release'], 'prom');
    const rs = rules(rule);
    assert.deepEqual(rs.map((r) => r.alert), ALERTS);
    for (const r of rs) {
      assert.match(String(r.for), /^\d+[smh]$/, r.alert);
      assert.ok(['critical', 'warning', 'info'].includes(r.labels.severity), r.alert);
      assert.ok(r.annotations.summary.length > 10 && r.annotations.description.length > 40, r.alert);
      // Each alert reads this release's series only.
      assert.ok(String(r.expr).includes('namespace="tracing"'), `${r.alert}: ${r.expr}`);
    }
  });

  test('every alert expression parses and names only metrics, labels and values that exist', () => {
    const rule = one(render({ metrics: { prometheusRule: { enabled: true } } }).objects, 'PrometheusRule');
    const problems = rules(rule).flatMap((r) => lintPromQL(String(r.expr), known).map((p) => `${r.alert}: ${p}`));
    assert.deepEqual(problems, []);
  });

  test('alerts can be turned off and tuned; alertLabels go on every alert; the seriesSelector replaces the namespace matcher', () => {
    const rule = one(
      render({
        metrics: {
          prometheusRule: {
            enabled: true,
            seriesSelector: 'cluster="eu-1",namespace="kto"',
            alertLabels: { team: 'platform', severity: 'ignored' },
            alerts: { KtoSpanExportFailing: { enabled: false, for: '1m', severity: 'info' }, KtoNoLeader: { enabled: true, for: '10m', severity: 'page' } },
          },
        },
      }).objects,
      'PrometheusRule',
    );
    const rs = rules(rule);
    assert.deepEqual(rs.map((r) => r.alert), ALERTS.filter((a) => a !== 'KtoSpanExportFailing'));
    const noLeader = rs.find((r) => r.alert === 'KtoNoLeader');
    assert.equal(noLeader.for, '10m');
    assert.deepEqual(noLeader.labels, { severity: 'page', team: 'platform' });
    assert.equal(noLeader.expr, 'sum(kto_leader{cluster="eu-1",namespace="kto"}) < 1 or absent(kto_leader{cluster="eu-1",namespace="kto"})');
    for (const r of rs) assert.deepEqual(lintPromQL(String(r.expr), { ...known, targetLabels: new Set([...known.targetLabels, 'cluster']) }), [], r.alert);
    // The not-progressing window is its `for`.
    const stuck = rs.find((r) => r.alert === 'KtoRolloutNotProgressing');
    assert.match(stuck.expr, /\[30m\]/);
  });

  test('extraRules: objects and YAML strings, through tpl, appended to the group', () => {
    const rule = one(
      render({
        metrics: {
          prometheusRule: {
            enabled: true,
            alerts: Object.fromEntries(ALERTS.map((a) => [a, { enabled: false, for: '1m', severity: 'info' }])),
            extraRules: [{ record: 'kto:progress:min', expr: 'min(kto_rollout_progress_ratio{namespace="{{ .Release.Namespace }}"})' }, '- alert: Mine\n  expr: vector(1)'],
          },
        },
      }).objects,
      'PrometheusRule',
    );
    assert.deepEqual(rules(rule), [{ record: 'kto:progress:min', expr: 'min(kto_rollout_progress_ratio{namespace="kto-system"})' }, { alert: 'Mine', expr: 'vector(1)' }]);
  });

  test('every alert off and no extraRules: refused, naming why', () => {
    const r = renderRaw({ metrics: { prometheusRule: { enabled: true, alerts: Object.fromEntries(ALERTS.map((a) => [a, { enabled: false, for: '1m', severity: 'info' }])) } } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /every alert is off and there are no extraRules/);
  });

  test('Prometheus templates in the annotations are left for Prometheus', () => {
    const rule = one(render({ metrics: { prometheusRule: { enabled: true } } }).objects, 'PrometheusRule');
    const stalled = rules(rule).find((r) => r.alert === 'KtoRolloutStalled');
    assert.match(stalled.annotations.summary, /\{\{ \$labels\.policy \}\}/);
  });
});

describe('metrics.grafanaDashboard', { skip: missingToolchain() }, () => {
  const file = readFileSync(join(ROOT, DASHBOARD_FILE), 'utf8');
  const dashboard = JSON.parse(file) as { panels: any[]; templating: { list: any[] }; uid: string };

  test('is current: run `node --import tsx hack/gen-dashboard.ts` after changing it', () => {
    assert.equal(file, generateDashboard());
  });

  test('a ConfigMap with the sidecar label (configurable), its namespace and annotations, holding the dashboard', () => {
    assert.equal(find(render().objects, 'ConfigMap', '-dashboard').length, 0);
    const cm = one(render({ metrics: { grafanaDashboard: { enabled: true } } }).objects, 'ConfigMap', '-dashboard') as any;
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.equal(cm.metadata.namespace, 'kto-system');
    assert.deepEqual(JSON.parse(cm.data['kubelet-tracing-operator.json']), dashboard);
    // Helm merges a map value into the default: null drops the default label.
    const labels = { grafana_dashboard: null, dashboards: 'kto' };
    const moved = one(render({ metrics: { grafanaDashboard: { enabled: true, namespace: 'monitoring', labels, annotations: { grafana_folder: 'Kubernetes' } } } }).objects, 'ConfigMap', '-dashboard') as any;
    assert.equal(moved.metadata.namespace, 'monitoring');
    assert.equal(moved.metadata.labels.dashboards, 'kto');
    assert.equal(moved.metadata.labels.grafana_dashboard, undefined);
    assert.deepEqual(moved.metadata.annotations, { grafana_folder: 'Kubernetes' });
  });

  test('panels: unique ids, on the 24-column grid; rollout progress, restarts in flight, failures and reconcile latency are there', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of dashboard.panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, p.title);
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Rollout progress', 'Restarts in flight', 'Failures', 'Reconcile latency']) assert.ok(titles.includes(t), t);
  });

  test("every query (panels and variables) parses and names only metrics, labels and values that exist, with Grafana's variables filled in", () => {
    const fill = (q: string): string => q.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$\{?(\w+)\}?/g, 'x');
    const queries: Array<[string, string]> = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t: { expr: string }) => [p.title, t.expr] as [string, string]));
    assert.ok(queries.length > 20);
    const problems = queries.flatMap(([title, q]) => lintPromQL(fill(q), known).map((p) => `${title}: ${p}`));
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.*), (\w+)\)$/.exec(v.definition);
      assert.ok(m, v.definition);
      problems.push(...lintPromQL(fill(m[1] ?? ''), known).map((p) => `$${v.name}: ${p}`));
      const metric = /^(\w+)/.exec(m[1] ?? '')?.[1] ?? '';
      if (!known.series.get(metric)?.has(m[2] ?? '') && !known.targetLabels.has(m[2] ?? '')) problems.push(`$${v.name}: ${metric} has no label ${m[2] ?? ''}`);
    }
    assert.deepEqual(problems, []);
  });
});
