import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validatePolicy } from '../../src/validate/policy.js';
import { policy } from '../helpers/policy.js';

type Doc = Record<string, unknown>;
const base = (): Doc => policy() as unknown as Doc;
const withSpec = (spec: Doc): Doc => ({ ...base(), spec });

// Each rule, good and bad. `path` is the field the error must name; `message` a fragment of the rule.
const bad: Array<[string, Doc, string, RegExp]> = [
  ['wrong apiVersion', { ...base(), apiVersion: 'nodetracing.dev/v1' }, 'apiVersion', /must be "nodetracing.dev\/v1alpha1"/],
  ['wrong kind', { ...base(), kind: 'TracingPolicy' }, 'kind', /must be "NodeTracingPolicy"/],
  ['missing name', { ...base(), metadata: {} }, 'metadata.name', /required/],
  ['missing spec', { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata: { name: 'x' } }, 'spec', /required/],
  ['missing tracing', withSpec({}), 'spec.tracing', /required/],
  ['rate above a million', withSpec({ tracing: { samplingRatePerMillion: 1000001 } }), 'spec.tracing.samplingRatePerMillion', /<= 1000000/],
  ['negative rate', withSpec({ tracing: { samplingRatePerMillion: -1 } }), 'spec.tracing.samplingRatePerMillion', />= 0/],
  ['fractional rate', withSpec({ tracing: { samplingRatePerMillion: 1.5 } }), 'spec.tracing.samplingRatePerMillion', /integer/],
  ['string rate', withSpec({ tracing: { samplingRatePerMillion: '10' } }), 'spec.tracing.samplingRatePerMillion', /integer/],
  ['http scheme', withSpec({ tracing: { endpoint: 'http://otel:4317' } }), 'spec.tracing.endpoint', /scheme "http" is not accepted/],
  ['https scheme', withSpec({ tracing: { endpoint: 'https://otel:4317' } }), 'spec.tracing.endpoint', /scheme "https"/],
  ['grpc scheme', withSpec({ tracing: { endpoint: 'grpc://otel:4317' } }), 'spec.tracing.endpoint', /scheme "grpc"/],
  ['whitespace', withSpec({ tracing: { endpoint: 'otel :4317' } }), 'spec.tracing.endpoint', /whitespace/],
  ['newline', withSpec({ tracing: { endpoint: 'otel:4317\n' } }), 'spec.tracing.endpoint', /whitespace or control/],
  ['control character', withSpec({ tracing: { endpoint: 'otel\u0007:4317' } }), 'spec.tracing.endpoint', /control/],
  ['port 0', withSpec({ tracing: { endpoint: 'otel:0' } }), 'spec.tracing.endpoint', /port 0 must be from 1 to 65535/],
  ['port too big', withSpec({ tracing: { endpoint: 'otel:65536' } }), 'spec.tracing.endpoint', /65535/],
  ['empty port', withSpec({ tracing: { endpoint: 'otel:' } }), 'spec.tracing.endpoint', /port ""/],
  ['named port', withSpec({ tracing: { endpoint: 'dns:///otel:grpc' } }), 'spec.tracing.endpoint', /port "grpc" must be a number/],
  ['dns:// naming a DNS server and no target', withSpec({ tracing: { endpoint: 'dns://otel-collector:4317' } }), 'spec.tracing.endpoint', /names the DNS server "otel-collector:4317" and no target .*write dns:\/\/\/otel-collector:4317/],
  ['dns: with nothing', withSpec({ tracing: { endpoint: 'dns:///' } }), 'spec.tracing.endpoint', /no target/],
  ['unix-abstract without //', withSpec({ tracing: { endpoint: 'unix-abstract:otel' } }), 'spec.tracing.endpoint', /rejects it; it accepts an abstract socket only as unix-abstract:\/\/\/NAME/],
  ['unix with an authority', withSpec({ tracing: { endpoint: 'unix://run/otel.sock' } }), 'spec.tracing.endpoint', /write unix:\/\/\/run\/otel.sock/],
  ['unix-abstract with an authority', withSpec({ tracing: { endpoint: 'unix-abstract://otel-sock' } }), 'spec.tracing.endpoint', /authority/],
  ['unix with a relative path', withSpec({ tracing: { endpoint: 'unix:run/otel.sock' } }), 'spec.tracing.endpoint', /absolute path/],
  ['no scheme before //', withSpec({ tracing: { endpoint: '//otel:4317' } }), 'spec.tracing.endpoint', /must start with dns:, unix: or unix-abstract:/],
  ['non-breaking space', withSpec({ tracing: { endpoint: 'otel\u00a0:4317' } }), 'spec.tracing.endpoint', /whitespace/],
  ['userinfo', withSpec({ tracing: { endpoint: 'user@otel:4317' } }), 'spec.tracing.endpoint', /host\[:port\]/],
  ['name not a DNS subdomain', { ...base(), metadata: { name: 'Bad_Name' } }, 'metadata.name', /RFC 1123 subdomain/],
  ['name too long', { ...base(), metadata: { name: 'a'.repeat(254) } }, 'metadata.name', /at most 253/],
  ['priority above int32', withSpec({ tracing: {}, priority: 1e20 }), 'spec.priority', /<= 2147483647/],
  ['priority below int32', withSpec({ tracing: {}, priority: -2147483649 }), 'spec.priority', />= -2147483648/],
  ['bad label key prefix', withSpec({ tracing: {}, nodeSelector: { matchLabels: { 'Example.com/tier': 'x' } } }), 'spec.nodeSelector.matchLabels', /key "Example.com\/tier": prefix "Example.com" must be a lowercase DNS subdomain/],
  ['label key with two slashes', withSpec({ tracing: {}, nodeSelector: { matchLabels: { 'a/b/c': 'x' } } }), 'spec.nodeSelector.matchLabels', /name part "b\/c"/],
  ['label key name too long', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: `x/${'n'.repeat(64)}`, operator: 'Exists' }] } }), 'spec.nodeSelector.matchExpressions[0].key', /name part/],
  ['label key prefix too long', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: `${'p'.repeat(254)}/n`, operator: 'Exists' }] } }), 'spec.nodeSelector.matchExpressions[0].key', /at most 253/],
  ['too many matchLabels', withSpec({ tracing: {}, nodeSelector: { matchLabels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) } }), 'spec.nodeSelector.matchLabels', /64/],
  ['unbracketed IPv6', withSpec({ tracing: { endpoint: 'fe80::1:4317' } }), 'spec.tracing.endpoint', /bracket/],
  ['bad percent escape', withSpec({ tracing: { endpoint: 'dns://ot%zzel:4317' } }), 'spec.tracing.endpoint', /percent/],
  ['too long', withSpec({ tracing: { endpoint: `${'a'.repeat(510)}:4317` } }), 'spec.tracing.endpoint', /at most 512/],
  ['empty endpoint', withSpec({ tracing: { endpoint: '' } }), 'spec.tracing.endpoint', /at least 1/],
  ['unknown tracing field', withSpec({ tracing: { samplingRate: 3 } }), 'spec.tracing.samplingRate', /unknown field/],
  ['unknown spec field', withSpec({ tracing: {}, nodeSelectr: {} }), 'spec.nodeSelectr', /unknown field/],
  ['unknown rollout field', withSpec({ tracing: {}, rollout: { maxSurge: 1 } }), 'spec.rollout.maxSurge', /unknown field/],
  ['unknown top-level field', { ...base(), extra: 1 }, 'extra', /unknown field/],
  ['featureGate not in enum', withSpec({ tracing: {}, featureGate: 'On' }), 'spec.featureGate', /Auto, Always, Never/],
  ['maxUnavailable 0', withSpec({ tracing: {}, rollout: { maxUnavailable: 0 } }), 'spec.rollout.maxUnavailable', /integer >= 1 or a percentage/],
  ['maxUnavailable 0%', withSpec({ tracing: {}, rollout: { maxUnavailable: '0%' } }), 'spec.rollout.maxUnavailable', /percentage/],
  ['maxUnavailable 101%', withSpec({ tracing: {}, rollout: { maxUnavailable: '101%' } }), 'spec.rollout.maxUnavailable', /percentage/],
  ['maxUnavailable "3"', withSpec({ tracing: {}, rollout: { maxUnavailable: '3' } }), 'spec.rollout.maxUnavailable', /percentage/],
  ['maxUnavailable 1.5', withSpec({ tracing: {}, rollout: { maxUnavailable: 1.5 } }), 'spec.rollout.maxUnavailable', /percentage/],
  ['negative minReadySeconds', withSpec({ tracing: {}, rollout: { minReadySeconds: -1 } }), 'spec.rollout.minReadySeconds', />= 0/],
  ['zero nodeTimeoutSeconds', withSpec({ tracing: {}, rollout: { nodeTimeoutSeconds: 0 } }), 'spec.rollout.nodeTimeoutSeconds', />= 1/],
  ['negative maxFailures', withSpec({ tracing: {}, rollout: { maxFailures: -2 } }), 'spec.rollout.maxFailures', />= 0/],
  ['paused not boolean', withSpec({ tracing: {}, rollout: { paused: 'yes' } }), 'spec.rollout.paused', /boolean/],
  ['verify not in enum', withSpec({ tracing: {}, rollout: { verify: 'Ping' } }), 'spec.rollout.verify', /AgentReport, Configz/],
  ['priority not integer', withSpec({ tracing: {}, priority: 'high' }), 'spec.priority', /integer/],
  ['operator unknown', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } }), 'spec.nodeSelector.matchExpressions[0].operator', /In, NotIn, Exists, DoesNotExist/],
  ['In without values', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }), 'spec.nodeSelector.matchExpressions[0].values', /non-empty when operator is In/],
  ['NotIn with empty values', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] } }), 'spec.nodeSelector.matchExpressions[0].values', /non-empty/],
  ['Exists with values', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }), 'spec.nodeSelector.matchExpressions[0].values', /must be empty when operator is Exists/],
  ['DoesNotExist with values', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] } }), 'spec.nodeSelector.matchExpressions[0].values', /must be empty/],
  ['expression without key', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ operator: 'Exists' }] } }), 'spec.nodeSelector.matchExpressions[0].key', /required/],
  ['bad label key', withSpec({ tracing: {}, nodeSelector: { matchLabels: { 'bad key!': 'x' } } }), 'spec.nodeSelector.matchLabels', /key "bad key!"/],
  ['bad label key prefix', withSpec({ tracing: {}, nodeSelector: { matchLabels: { 'Example.COM/role': 'x' } } }), 'spec.nodeSelector.matchLabels', /prefix/],
  ['bad label value', withSpec({ tracing: {}, nodeSelector: { matchLabels: { role: '-worker' } } }), 'spec.nodeSelector.matchLabels.role', /alphanumeric/],
  ['bad expression value', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['ok', 'no way'] }] } }), 'spec.nodeSelector.matchExpressions[0].values[1]', /alphanumeric/],
  ['label value not a string', withSpec({ tracing: {}, nodeSelector: { matchLabels: { role: 3 } } }), 'spec.nodeSelector.matchLabels.role', /string/],
  ['unknown selector field', withSpec({ tracing: {}, nodeSelector: { matchLabel: {} } }), 'spec.nodeSelector.matchLabel', /unknown field/],
];

for (const [name, doc, path, message] of bad) {
  test(`validate rejects: ${name}`, () => {
    const r = validatePolicy(doc);
    assert.equal(r.ok, false, 'expected invalid');
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === path);
    assert.ok(hit, `no error at ${path}; got ${JSON.stringify(r.errors)}`);
    assert.match(hit.message, message);
  });
}

const good: Array<[string, Doc]> = [
  ['empty tracing', withSpec({ tracing: {} })],
  ['host:port read as dns://', withSpec({ tracing: { endpoint: 'otel-collector.observability.svc:4317' } })],
  ['host without port', withSpec({ tracing: { endpoint: 'localhost' } })],
  ['dns:/// with port', withSpec({ tracing: { endpoint: 'dns:///otel:4317' } })],
  ['dns: with port (no //)', withSpec({ tracing: { endpoint: 'dns:otel:4317' } })],
  ['dns with authority server', withSpec({ tracing: { endpoint: 'dns://8.8.8.8:53/otel.example.com:4317' } })],
  ['upper-case scheme', withSpec({ tracing: { endpoint: 'DNS:///otel:4317' } })],
  ['unix socket', withSpec({ tracing: { endpoint: 'unix:///run/otel/otlp.sock' } })],
  ['unix socket, one slash', withSpec({ tracing: { endpoint: 'unix:/run/otel.sock' } })],
  ['unix-abstract', withSpec({ tracing: { endpoint: 'unix-abstract:///otel-sock' } })],
  ['port with leading zero', withSpec({ tracing: { endpoint: 'otel:04317' } })],
  ['int32 priority bounds', withSpec({ tracing: {}, priority: 2147483647 })],
  ['lowest int32 priority', withSpec({ tracing: {}, priority: -2147483648 })],
  ['dotted name', { ...base(), metadata: { name: 'a.b-c.d' } }],
  ['status of any shape (the server ignores it)', { ...withSpec({ tracing: {} }), status: 'anything' }],
  ['bracketed IPv6', withSpec({ tracing: { endpoint: '[::1]:4317' } })],
  ['port 65535', withSpec({ tracing: { endpoint: 'otel:65535' } })],
  ['max length 512', withSpec({ tracing: { endpoint: `${'a'.repeat(507)}:4317` } })],
  ['rate 0 and 1000000', withSpec({ tracing: { samplingRatePerMillion: 1000000 } })],
  ['rate 0', withSpec({ tracing: { samplingRatePerMillion: 0 } })],
  ['every featureGate', withSpec({ tracing: {}, featureGate: 'Never' })],
  ['maxUnavailable 100%', withSpec({ tracing: {}, rollout: { maxUnavailable: '100%' } })],
  ['maxUnavailable 1%', withSpec({ tracing: {}, rollout: { maxUnavailable: '1%' } })],
  ['maxUnavailable 7', withSpec({ tracing: {}, rollout: { maxUnavailable: 7 } })],
  ['every rollout field', withSpec({ tracing: {}, rollout: { maxUnavailable: 2, paused: true, minReadySeconds: 0, nodeTimeoutSeconds: 1, maxFailures: 0, verify: 'Configz' } })],
  ['negative priority', withSpec({ tracing: {}, priority: -5 })],
  ['empty selector', withSpec({ tracing: {}, nodeSelector: {} })],
  ['prefixed key, empty value', withSpec({ tracing: {}, nodeSelector: { matchLabels: { 'node-role.kubernetes.io/worker': '' } } })],
  ['every operator', withSpec({ tracing: {}, nodeSelector: { matchExpressions: [
    { key: 'a', operator: 'In', values: ['x'] }, { key: 'b', operator: 'NotIn', values: ['y'] },
    { key: 'c', operator: 'Exists' }, { key: 'd', operator: 'DoesNotExist', values: [] }] } })],
  ['status present (as read from the cluster)', { ...withSpec({ tracing: {} }), status: { observedGeneration: 1, targetNodes: 3 } }],
  ['server metadata fields', { ...base(), metadata: { name: 'x', uid: 'u', resourceVersion: '5', generation: 2, finalizers: ['nodetracing.dev/cleanup'] } }],
];

for (const [name, doc] of good) {
  test(`validate accepts: ${name}`, () => {
    const r = validatePolicy(doc);
    assert.deepEqual(r.ok ? [] : r.errors, []);
  });
}

test('validate reports every problem at once', () => {
  const r = validatePolicy(withSpec({ tracing: { endpoint: 'http://x', samplingRatePerMillion: 2e6 }, featureGate: 'x' }));
  assert.equal(r.ok, false);
  if (!r.ok) assert.deepEqual(r.errors.map((e) => e.path).sort(), ['spec.featureGate', 'spec.tracing.endpoint', 'spec.tracing.samplingRatePerMillion']);
});

test('validate never throws on junk', () => {
  for (const junk of [null, undefined, 3, 'x', [], [1], { spec: null }, { spec: { tracing: null } }, { spec: { nodeSelector: 'x', tracing: {} } }]) {
    const r = validatePolicy(junk);
    assert.equal(r.ok, false);
  }
});
