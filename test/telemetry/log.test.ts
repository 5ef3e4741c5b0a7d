// The log format pipelines parse (string levels, ISO-8601 times, errors with their stacks), the
// level in force (--log-level > $KTO_LOG_LEVEL > info), and a bad level as a usage error.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { loggerOptions, resolveLogLevel } from '../../src/telemetry/log.js';
import { runKto } from '../helpers/cli.js';
import { startKto } from '../helpers/proc.js';

/** A pino logger with kto's options, writing its lines into an array. */
function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'debug'): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return { logger: pino(loggerOptions('controller', level), sink), lines: () => out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('format', () => {
  test('string level names and ISO-8601 UTC times, the component on every line', () => {
    const c = capture();
    c.logger.info({ policy: 'p' }, 'released node');
    c.logger.warn({}, 'lost leadership');
    const [a, b] = c.lines();
    assert.equal(a?.['level'], 'info');
    assert.equal(b?.['level'], 'warn');
    assert.match(String(a?.['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(a?.['component'], 'controller');
    assert.equal(a?.['msg'], 'released node');
    assert.equal(a?.['policy'], 'p');
  });

  test('an error in `err` keeps its type, message and stack; an ApiException drops its headers and body (its message has both)', () => {
    const c = capture();
    c.logger.error({ err: new TypeError('boom') }, 'reconcile failed');
    c.logger.error({ err: new k8s.ApiException(503, 'HTTP-Code: 503 Message: unavailable', { kind: 'Status' }, { 'audit-id': 'x' }) }, 'list failed');
    const [plain, api] = c.lines().map((l) => l['err'] as Record<string, unknown>);
    assert.equal(plain?.['type'], 'TypeError');
    assert.equal(plain?.['message'], 'boom');
    assert.match(String(plain?.['stack']), /TypeError: boom\n\s+at /);
    assert.equal(api?.['code'], 503);
    assert.match(String(api?.['message']), /503/);
    assert.equal(api?.['headers'], undefined);
    assert.equal(api?.['body'], undefined);
  });

  test('the level filters: at warn, info and debug are dropped', () => {
    const c = capture('warn');
    c.logger.debug({}, 'd');
    c.logger.info({}, 'i');
    c.logger.warn({}, 'w');
    c.logger.error({}, 'e');
    assert.deepEqual(c.lines().map((l) => l['msg']), ['w', 'e']);
  });
});

describe('the level in force', () => {
  const cases: Array<[string, string | undefined, string | undefined, string]> = [
    ['nothing set: info', undefined, undefined, 'info'],
    ['the environment when no flag', undefined, 'debug', 'debug'],
    ['the flag over the environment', 'error', 'debug', 'error'],
    ['an empty environment variable is unset', undefined, '', 'info'],
  ];
  for (const [name, flag, env, want] of cases) {
    test(name, () => assert.equal(resolveLogLevel(flag, env === undefined ? {} : { KTO_LOG_LEVEL: env }), want));
  }
  test('a bad value names where it came from and the levels there are', () => {
    assert.throws(() => resolveLogLevel('verbose', {}), /--log-level: "verbose" is not a log level; use one of debug, info, warn, error/);
    assert.throws(() => resolveLogLevel(undefined, { KTO_LOG_LEVEL: 'WARN' }), /KTO_LOG_LEVEL: "WARN" is not a log level; use one of debug, info, warn, error/);
  });
});

describe('kto controller / kto agent', () => {
  let dir = '';
  let unreachable = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kto-log-'));
    // Nothing listens on port 9: the agent logs its info lines, then a warning per retry.
    unreachable = join(dir, 'kubeconfig');
    await writeFile(
      unreachable,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a bad --log-level or $KTO_LOG_LEVEL is a usage error (exit 2) naming the levels, before anything starts', async () => {
    const missing = join(dir, 'no-such-kubeconfig');
    const flag = await runKto(['controller', '--log-level', 'verbose', '--kubeconfig', missing, '--metrics-port', '0']);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /argument 'verbose' is invalid\. Allowed choices are debug, info, warn, error/);
    const env = await runKto(['agent', '--node-name', 'n1', '--kubeconfig', missing, '--metrics-port', '0'], { env: { KTO_LOG_LEVEL: 'loud' } });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /KTO_LOG_LEVEL: "loud" is not a log level; use one of debug, info, warn, error/);
    // Not the missing kubeconfig (exit 1), nor a log line: nothing was started.
    assert.doesNotMatch(env.stderr, /no such file|"level"/);
  });

  test('$KTO_LOG_LEVEL applies when there is no flag, and the flag wins over it', async () => {
    const args = ['agent', '--node-name', 'n1', '--kubeconfig', unreachable, '--metrics-port', '0'];
    const quiet = startKto(args, { KTO_LOG_LEVEL: 'warn' });
    const loud = startKto([...args, '--log-level', 'info'], { KTO_LOG_LEVEL: 'error' });
    try {
      await quiet.waitFor(/own-node watch: (streaming )?list failed/);
      await loud.waitFor(/own-node watch: (streaming )?list failed/);
    } finally {
      await Promise.all([quiet.stop(), loud.stop()]);
    }
    const lines = (out: string) => out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const q = lines(quiet.output());
    assert.ok(q.length > 0);
    assert.deepEqual([...new Set(q.map((l) => l['level']))], ['warn'], quiet.output());
    const l = lines(loud.output());
    assert.ok(l.some((x) => x['level'] === 'info' && /tracing off/.test(String(x['msg']))), loud.output());
    assert.ok(l.some((x) => x['level'] === 'warn' && x['component'] === 'agent' && x['node'] === 'n1' && typeof (x['err'] as { stack?: unknown } | undefined)?.stack === 'string'), loud.output());
  });
});
