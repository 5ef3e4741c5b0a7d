// Generates the operator's Grafana dashboard, charts/kubelet-tracing-operator/files/grafana-dashboard.json
// (the chart ships it in a ConfigMap for the Grafana sidecar: metrics.grafanaDashboard). The panels
// are data here, so the JSON stays consistent (grid, datasource, variables); test/chart/monitoring.test.ts
// checks the file is current and lints every query against docs/metrics.md.
//
//   node --import tsx hack/gen-dashboard.ts           # write the file
//   node --import tsx hack/gen-dashboard.ts --check   # exit 1 when it is stale
import { readFile, writeFile } from 'node:fs/promises';

export const DASHBOARD_FILE = 'charts/kubelet-tracing-operator/files/grafana-dashboard.json';

const DS = { type: 'prometheus', uid: '${datasource}' };
/** Every query is scoped to the namespace chosen (the release's: the scrape's `namespace` label). */
const NS = 'namespace="$namespace"';
const POLICY = `${NS}, policy=~"$policy"`;

interface Query {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  type: 'stat' | 'timeseries' | 'state-timeline';
  width: number;
  height?: number;
  unit?: string;
  queries: Query[];
  description: string;
  /** timeseries: stack the series; stat: 0/1 mapped to words. */
  stacked?: boolean;
  yesNo?: boolean;
  max?: number;
}

type Row = { row: string; panels: PanelSpec[] };

const q = (expr: string, legend = ''): Query => ({ expr, legend });
const quantiles = (bucket: string, by = ''): Query[] =>
  [0.5, 0.9, 0.99].map((p) => q(`histogram_quantile(${p}, sum by (le${by}) (rate(${bucket}{${NS}}[$__rate_interval])))`, `p${p * 100}${by ? ` {{${by.replace(/^, /, '')}}}` : ''}`));

export const ROWS: Row[] = [
  {
    row: 'Rollouts',
    panels: [
      { title: 'Leader', type: 'stat', width: 6, height: 4, yesNo: true, queries: [q(`max(kto_leader{${NS}})`)], description: 'Whether a controller replica holds the leader Lease and acts on policies (kto_leader).' },
      {
        title: 'Policies stalled',
        type: 'stat',
        width: 6,
        height: 4,
        queries: [q(`count(max by (policy) (kto_policy_condition{${NS}, type="Stalled", status="True"}) == 1) or vector(0)`)],
        description: 'Policies whose rollout waits for a person: halted, blocked, or an invalid spec (Stalled=True).',
      },
      { title: 'Nodes failed', type: 'stat', width: 6, height: 4, queries: [q(`sum(max by (policy) (kto_policy_nodes{${NS}, phase="Failed"})) or vector(0)`)], description: 'Nodes that rolled back or timed out, over all policies.' },
      { title: 'Restarts in flight', type: 'stat', width: 6, height: 4, queries: [q(`sum(max by (policy) (kto_policy_nodes{${NS}, phase="InProgress"})) or vector(0)`)], description: 'Nodes released and not yet verified: their kubelets are restarting on the new config.' },
      { title: 'Rollout progress', type: 'timeseries', width: 12, unit: 'percentunit', max: 1, queries: [q(`max by (policy) (kto_rollout_progress_ratio{${POLICY}})`, '{{policy}}')], description: 'Updated / target nodes per policy.' },
      { title: 'Nodes by phase', type: 'timeseries', width: 12, stacked: true, queries: [q(`sum by (phase) (max by (policy, phase) (kto_policy_nodes{${POLICY}}))`, '{{phase}}')], description: 'Nodes of the selected policies by rollout phase.' },
      {
        title: 'Restarts in flight and soaking',
        type: 'timeseries',
        width: 12,
        stacked: true,
        queries: [q(`max by (policy, phase) (kto_policy_nodes{${POLICY}, phase=~"InProgress|Soaking"})`, '{{policy}} {{phase}}')],
        description: 'Per policy: nodes restarting (InProgress) and nodes verified but soaking (minReadySeconds) before they free their slot.',
      },
      {
        title: 'Failures',
        type: 'timeseries',
        width: 12,
        queries: [q(`max by (policy) (kto_policy_nodes{${POLICY}, phase="Failed"})`, 'failed {{policy}}'), q(`sum(increase(kto_node_rollbacks_total{${NS}}[$__rate_interval]))`, 'rollbacks')],
        description: 'Failed nodes per policy, and rollbacks the agents performed.',
      },
      {
        title: 'Conditions',
        type: 'state-timeline',
        width: 24,
        queries: [q(`max by (policy, type) (kto_policy_condition{${POLICY}, status="True"})`, '{{policy}} {{type}}')],
        description: 'Each policy condition over time: 1 while it is True.',
      },
    ],
  },
  {
    row: 'Controller',
    panels: [
      { title: 'Reconcile latency', type: 'timeseries', width: 12, unit: 's', queries: quantiles('kto_reconcile_duration_seconds_bucket'), description: 'Wall time of one reconcile run.' },
      { title: 'Reconciles by result', type: 'timeseries', width: 12, unit: 'ops', stacked: true, queries: [q(`sum by (result) (rate(kto_reconcile_total{${NS}}[$__rate_interval]))`, '{{result}}')], description: 'success, requeue (a timed wait), error (retried), terminal (invalid spec).' },
      {
        title: 'Work queue',
        type: 'timeseries',
        width: 12,
        queries: [
          q(`sum(workqueue_depth{${NS}, name="nodetracingpolicy"})`, 'depth'),
          q(`sum(rate(workqueue_adds_total{${NS}, name="nodetracingpolicy"}[$__rate_interval]))`, 'adds/s'),
          q(`sum(rate(workqueue_retries_total{${NS}, name="nodetracingpolicy"}[$__rate_interval]))`, 'retries/s'),
        ],
        description: "controller-runtime's work-queue metrics: policies waiting, added, retried after a failure.",
      },
      {
        title: 'Work queue latency (p99)',
        type: 'timeseries',
        width: 12,
        unit: 's',
        queries: [
          q(`histogram_quantile(0.99, sum by (le) (rate(workqueue_queue_duration_seconds_bucket{${NS}, name="nodetracingpolicy"}[$__rate_interval])))`, 'waiting'),
          q(`histogram_quantile(0.99, sum by (le) (rate(workqueue_work_duration_seconds_bucket{${NS}, name="nodetracingpolicy"}[$__rate_interval])))`, 'working'),
          q(`max(workqueue_longest_running_processor_seconds{${NS}, name="nodetracingpolicy"})`, 'longest running'),
        ],
        description: 'How long a policy waits in the queue, and how long its reconcile runs.',
      },
      { title: 'API writes', type: 'timeseries', width: 12, unit: 'ops', queries: [q(`sum by (resource, code) (rate(kto_api_writes_total{${NS}}[$__rate_interval]))`, '{{resource}} {{code}}')], description: 'Writes to the API server by resource and HTTP status (0: no response).' },
      {
        title: 'Informer relists',
        type: 'timeseries',
        width: 12,
        queries: [q(`sum by (resource, reason) (increase(kto_informer_relists_total{${NS}}[$__rate_interval]))`, '{{resource}} {{reason}}')],
        description: 'Lists after the first, by why: watch_closed is routine; expired, too_large_resource_version and resource_version_went_back are not.',
      },
    ],
  },
  {
    row: 'Agents',
    panels: [
      {
        title: 'Kubelet restarts and rollbacks',
        type: 'timeseries',
        width: 12,
        queries: [q(`sum(increase(kto_node_restarts_total{${NS}}[$__rate_interval]))`, 'restarts'), q(`sum(increase(kto_node_rollbacks_total{${NS}}[$__rate_interval]))`, 'rollbacks')],
        description: 'Kubelet restarts the agents performed, and applies they rolled back.',
      },
      { title: 'Apply duration', type: 'timeseries', width: 12, unit: 's', queries: quantiles('kto_agent_apply_duration_seconds_bucket', ', state'), description: 'Write, restart, health check (and rollback) of one node, by outcome.' },
    ],
  },
  {
    row: 'Operator spans',
    panels: [
      {
        title: 'Span export',
        type: 'timeseries',
        width: 24,
        unit: 'ops',
        queries: [
          q(`sum by (job) (rate(kto_spans_exported_total{${NS}}[$__rate_interval]))`, 'exported {{job}}'),
          q(`sum by (job) (rate(kto_spans_export_failed_total{${NS}}[$__rate_interval]))`, 'failed {{job}}'),
          q(`sum by (job) (rate(kto_spans_dropped_total{${NS}}[$__rate_interval]))`, 'dropped {{job}}'),
        ],
        description: "The operator's own spans (tracing on): delivered to the collector, failed, dropped.",
      },
    ],
  },
];

function panel(p: PanelSpec, id: number, x: number, y: number): Record<string, unknown> {
  const defaults: Record<string, unknown> = { unit: p.unit ?? 'short', min: 0, ...(p.max !== undefined ? { max: p.max } : {}) };
  if (p.yesNo) defaults['mappings'] = [{ type: 'value', options: { '0': { text: 'no', color: 'red' }, '1': { text: 'yes', color: 'green' } } }];
  if (p.type === 'timeseries') defaults['custom'] = { fillOpacity: p.stacked ? 30 : 10, stacking: { mode: p.stacked ? 'normal' : 'none', group: 'A' } };
  return {
    id,
    type: p.type,
    title: p.title,
    description: p.description,
    datasource: DS,
    gridPos: { h: p.height ?? 8, w: p.width, x, y },
    fieldConfig: { defaults, overrides: [] },
    options: p.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none' } : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    targets: p.queries.map((t, i) => ({ refId: String.fromCharCode(65 + i), datasource: DS, expr: t.expr, legendFormat: t.legend })),
  };
}

function variable(name: string, label: string, query: string, all: boolean): Record<string, unknown> {
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    sort: 1,
    ...(all ? { includeAll: true, multi: true, allValue: '.*', current: { text: 'All', value: '$__all' } } : { includeAll: false, multi: false }),
  };
}

export function dashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const r of ROWS) {
    panels.push({ id: id++, type: 'row', title: r.row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    let x = 0;
    let rowHeight = 0;
    for (const p of r.panels) {
      if (x + p.width > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panel(p, id++, x, y));
      x += p.width;
      rowHeight = Math.max(rowHeight, p.height ?? 8);
    }
    y += rowHeight;
  }
  return {
    uid: 'kubelet-tracing-operator',
    title: 'kubelet-tracing-operator',
    description: 'NodeTracingPolicy rollouts, the controller and the node agents (docs/metrics.md).',
    tags: ['kubernetes', 'kubelet-tracing-operator'],
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    timezone: '',
    version: 1,
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', refresh: 1, current: {} },
        variable('namespace', 'Namespace', 'label_values(kto_build_info, namespace)', false),
        variable('policy', 'Policy', `label_values(kto_policy_condition{${NS}}, policy)`, true),
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

export function generate(): string {
  return `${JSON.stringify(dashboard(), null, 2)}\n`;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const target = new URL(`../${DASHBOARD_FILE}`, import.meta.url);
  if (process.argv.includes('--check')) {
    if ((await readFile(target, 'utf8').catch(() => '')) !== generate()) {
      process.stderr.write(`${DASHBOARD_FILE} is stale: run node --import tsx hack/gen-dashboard.ts\n`);
      process.exit(1);
    }
  } else {
    await writeFile(target, generate());
    process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
  }
}
