// docs/metrics.md as data (its two tables), and the Prometheus text format as families: what the
// metrics-docs test holds against each other, and what the chart's alerts and dashboard are
// linted against.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface MetricDoc {
  type: string;
  labels: string[];
}

export type Component = 'Controller' | 'Agent';

/** The metrics table under `## <component>` of docs/metrics.md. */
export function documentedMetrics(component: Component, text = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8')): Map<string, MetricDoc> {
  const section = text.split(/^## /m).find((s) => s.startsWith(`${component}\n`));
  if (section === undefined) throw new Error(`docs/metrics.md has no "## ${component}" section`);
  const out = new Map<string, MetricDoc>();
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z_:][a-z0-9_:]*)` \| (\w+) \|([^|]*)\|/.exec(line);
    if (!m) continue;
    const labels = [...(m[3] ?? '').matchAll(/`([a-z_][a-z0-9_]*)`/g)].map((l) => l[1] ?? '');
    out.set(m[1] ?? '', { type: m[2] ?? '', labels });
  }
  return out;
}

/** Every metric either process serves, as PromQL sees it (a histogram's _bucket, _sum and
 *  _count included), with the labels it may carry. */
export function queryableSeries(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of ['Controller', 'Agent'] as const) {
    for (const [name, d] of documentedMetrics(c)) {
      const names = d.type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      for (const n of names) {
        const labels = out.get(n) ?? new Set<string>();
        for (const l of d.labels) labels.add(l);
        if (n.endsWith('_bucket')) labels.add('le');
        out.set(n, labels);
      }
    }
  }
  return out;
}

export interface Family {
  type: string;
  /** Label names seen on its samples (`le` of histogram buckets left out). */
  labels: Set<string>;
  samples: number;
}

/** The families of a /metrics body, from its # TYPE lines and samples. */
export function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      out.set(t[1] ?? '', { type: t[2] ?? '', labels: new Set(), samples: 0 });
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!s) throw new Error(`unparsable /metrics line: ${line}`);
    const name = s[1] ?? '';
    const family = out.get(name) ?? out.get(name.replace(/_(bucket|sum|count)$/, ''));
    if (!family) throw new Error(`a sample without a # TYPE: ${line}`);
    family.samples++;
    for (const l of (s[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) {
      if (!(l[1] === 'le' && name.endsWith('_bucket'))) family.labels.add(l[1] ?? '');
    }
  }
  return out;
}
