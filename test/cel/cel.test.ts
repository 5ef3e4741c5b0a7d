// The CEL module (src/cel): compile-time type checking with Kubernetes' wording, RE2 `matches`,
// runtime errors, the cost guard, and x-kubernetes-validations over a structural schema.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CelCostError, CelEnv, CelRuntimeError, compileSchemaRules, fromCel, type RuleSchema, toCel } from '../../src/cel/index.js';

const env = new CelEnv({ object: 'dyn', s: 'string', n: 'int', l: 'list<dyn>' });

function run(expr: string, vars: Record<string, unknown>): unknown {
  const c = env.compile(expr);
  if (!c.ok) throw new Error(c.error);
  return c.program.evaluate(vars);
}

describe('compile', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['undeclared variable', 'foo == 1', /^compilation failed: ERROR: <input>:1:1: undeclared reference to 'foo' \(in container ''\)\n \| foo == 1\n \| \^$/],
    ['syntax error, with the column', 'object.a +', /^compilation failed: ERROR: <input>:1:11: Syntax error: .*\n \| object.a \+\n \| \.{10}\^$/],
    ['second line', 'object.a ==\n  foo', /ERROR: <input>:2:3: undeclared reference to 'foo'/],
    ['type mismatch', 's + 1', /^compilation failed: ERROR: <input>:1:1: .*string.*int/],
    ['bad RE2 literal', "s.matches('(a')", /^compilation failed: ERROR: <input>:1:11: error parsing regexp: missing closing \): `\(a`/],
    ['look-ahead is not RE2', "s.matches('(?=a)')", /invalid or unsupported Perl syntax/],
    ['mixed list literal (HomogeneousAggregateLiterals)', "[1, 'a'] == l", /compilation failed/],
  ];
  for (const [name, expr, want] of cases) {
    test(name, () => {
      const c = env.compile(expr);
      assert.equal(c.ok, false);
      if (!c.ok) assert.match(c.error, want);
    });
  }

  test('a required result type', () => {
    const c = env.compile('s', { returns: ['bool'] });
    assert.deepEqual(c.ok ? '' : c.error, 'must evaluate to bool');
    assert.ok(env.compile('object.x', { returns: ['bool'] }).ok, 'dyn passes and is checked at run time');
  });

  test('typed objects: an unknown field fails to compile', () => {
    const typed = new CelEnv({ self: 'T.a' }, [{ name: 'T.a', fields: { key: 'string', values: 'list<string>' } }]);
    const c = typed.compile('self.vals.size() > 0');
    assert.match(c.ok ? '' : c.error, /undefined field 'vals'/);
    assert.ok(typed.compile("has(self.values) && self.key.startsWith('x')").ok);
  });
});

describe('evaluate', () => {
  test('Kubernetes values: JSON integers are int, other numbers double, objects are maps', () => {
    const object = toCel({ a: 1, b: 1.5, m: { k: 'v' }, l: [1, 2] });
    assert.equal(run('object.a + 1 == 2', { object }), true);
    assert.equal(run('object.b > 1.0', { object }), true);
    assert.equal(run("object.m.k == 'v' && 'k' in object.m && !has(object.m.z)", { object }), true);
    assert.equal(run('object.l.all(x, x > 0) && object.l.exists(x, x == 2) && size(object.l) == 2', { object }), true);
    assert.deepEqual(fromCel(run('object.l.map(x, x * 2)', { object })), [2, 4]);
  });

  test('matches is RE2: \\s is ASCII, (?i) works, the match is unanchored', () => {
    assert.equal(run("s.matches('\\\\s')", { s: 'a\u00a0b' }), false, 'NBSP is not \\s in RE2');
    assert.equal(run("s.matches('\\\\s')", { s: 'a b' }), true);
    assert.equal(run("s.matches('(?i)^NODE-[0-9]+$')", { s: 'node-01' }), true);
    assert.equal(run("s.matches('ode')", { s: 'node-01' }), true);
    assert.equal(run("matches(s, '^n')", { s: 'node-01' }), true, 'global form');
  });

  test('the strings extension (split, indexOf, substring, lowerAscii)', () => {
    assert.equal(run("s.split('/')[0] == 'a' && s.indexOf('/') == 1 && s.substring(2) == 'b' && 'AB'.lowerAscii() == 'ab'", { s: 'a/b' }), true);
  });

  test('runtime errors read as cel-go words them', () => {
    assert.throws(() => run('object.nope == 1', { object: toCel({}) }), (e: unknown) => e instanceof CelRuntimeError && e.message === 'no such key: nope');
    assert.throws(() => run('n / 0 == 1', { n: 1n }), (e: unknown) => e instanceof CelRuntimeError && /division by zero/.test(e.message));
    assert.throws(() => run("object.x + 1 == 2", { object: toCel({ x: 'a' }) }), /no such overload/);
  });

  test('errors inside || and && are absorbed as CEL specifies', () => {
    assert.equal(run('true || object.nope == 1', { object: toCel({}) }), true);
    assert.equal(run('false && object.nope == 1', { object: toCel({}) }), false);
  });

  test('cost guard: nested macros over large lists stop with the per-call limit error', () => {
    const big = toCel(Array.from({ length: 2000 }, (_, i) => i));
    assert.equal(run('l.all(x, x >= 0)', { l: big }), true, 'one macro is linear: allowed');
    assert.throws(() => run('l.all(x, l.all(y, x + y >= 0))', { l: big }), (e: unknown) => e instanceof CelCostError && e.message === 'operation cancelled: actual cost limit exceeded');
    const small = toCel([1, 2, 3]);
    assert.equal(run('l.all(x, l.all(y, x + y >= 0))', { l: small }), true, 'nested over small lists: allowed');
  });

  test('deep expressions are refused at compile time, not by a stack overflow', () => {
    const deep = `${'('.repeat(500)}1${')'.repeat(500)} == 1`;
    const c = env.compile(deep);
    assert.equal(c.ok, false);
  });
});

describe('x-kubernetes-validations over a structural schema', () => {
  const schema: RuleSchema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          replicas: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= 0', message: 'must not be negative' }] },
          mode: {
            type: 'string',
            'x-kubernetes-validations': [
              { rule: "self == oldSelf || oldSelf != 'Locked'", message: 'a Locked mode cannot change' },
              { rule: "self != 'Forbidden'", message: 'is forbidden', reason: 'FieldValueForbidden' },
            ],
          },
          items: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['name'],
            items: {
              type: 'object',
              properties: { name: { type: 'string' }, size: { type: 'integer' } },
              'x-kubernetes-validations': [
                { rule: 'self.size <= 10', messageExpression: "'size ' + string(self.size) + ' of ' + self.name + ' is over 10'", fieldPath: '.size' },
                { rule: 'self.size >= oldSelf.size', message: 'an item never shrinks' },
              ],
            },
          },
          labels: { type: 'object', additionalProperties: { type: 'string' }, 'x-kubernetes-validations': [{ rule: "self.all(k, k != 'bad')" }] },
        },
      },
    },
  };
  const rules = compileSchemaRules(schema);

  test('compiles, and reports nothing for a good object', () => {
    assert.deepEqual(rules.issues, []);
    assert.deepEqual(rules.validate({ spec: { replicas: 1, mode: 'On', items: [{ name: 'a', size: 1 }], labels: { ok: 'x' } } }, undefined), { errors: [], ratcheted: [] });
  });

  test('path, reason, message, messageExpression and fieldPath of each failure', () => {
    const { errors } = rules.validate({ spec: { replicas: -1, mode: 'Forbidden', items: [{ name: 'a', size: 11 }], labels: { bad: 'x' } } }, undefined);
    assert.deepEqual(
      errors.map((e) => [e.path, e.reason, e.schemaType, e.detail]),
      [
        ['spec.replicas', 'FieldValueInvalid', 'integer', 'must not be negative'],
        ['spec.mode', 'FieldValueForbidden', 'string', 'is forbidden'],
        ['spec.items[0].size', 'FieldValueInvalid', 'object', 'size 11 of a is over 10'],
        ['spec.labels', 'FieldValueInvalid', 'object', "failed rule: self.all(k, k != 'bad')"],
      ],
    );
  });

  test('transition rules run only on update, against the correlated old value', () => {
    const created = rules.validate({ spec: { mode: 'On', items: [{ name: 'a', size: 1 }] } }, undefined);
    assert.deepEqual(created.errors, [], 'no oldSelf on create');
    const locked = rules.validate({ spec: { mode: 'On' } }, { spec: { mode: 'Locked' } });
    assert.deepEqual(locked.errors.map((e) => e.detail), ['a Locked mode cannot change']);
    // list-type map items correlate by key, wherever they moved; a new item has no oldSelf.
    const shrunk = rules.validate({ spec: { items: [{ name: 'new', size: 1 }, { name: 'a', size: 1 }] } }, { spec: { items: [{ name: 'a', size: 5 }] } });
    assert.deepEqual(shrunk.errors.map((e) => [e.path, e.detail]), [['spec.items[1]', 'an item never shrinks']]);
  });

  test('ratcheting: a failing rule on an unchanged value warns instead of failing', () => {
    const old = { spec: { replicas: -1, mode: 'On' } };
    const r = rules.validate({ spec: { replicas: -1, mode: 'Off' } }, old);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.ratcheted.map((e) => e.path), ['spec.replicas']);
  });

  test('a rule naming a field the schema does not declare fails to compile', () => {
    const s: RuleSchema = { type: 'object', properties: { x: { type: 'object', properties: { a: { type: 'string' } }, 'x-kubernetes-validations': [{ rule: 'self.b == 1' }] } } };
    assert.match(compileSchemaRules(s).issues.map((i) => i.detail).join(), /undefined field 'b'/);
  });

  test('runtime errors are reported as the server does, naming the rule', () => {
    const s: RuleSchema = {
      type: 'object',
      properties: {
        n: { 'x-kubernetes-int-or-string': true, 'x-kubernetes-validations': [{ rule: 'self + 1 > 1' }] },
        m: { type: 'object', additionalProperties: { type: 'string' }, 'x-kubernetes-validations': [{ rule: "self.k == 'v'", message: 'k is v' }] },
      },
    };
    const { errors } = compileSchemaRules(s).validate({ n: 'ten', m: {} }, undefined);
    assert.deepEqual(errors.map((e) => [e.path, e.schemaType, e.detail.replace(/'no such overload[^']*'/, "'no such overload'")]), [
      ['n', '', "'no such overload': call arguments did not match a supported operator, function or macro signature for rule: self + 1 > 1"],
      ['m', 'object', 'no such key: k evaluating rule: k is v'],
    ]);
  });

  test('rules that do not compile are reported with their schema path and field', () => {
    const bad: RuleSchema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: { a: { type: 'string' } },
          'x-kubernetes-validations': [{ rule: 'self.b == 1' }, { rule: '' }, { rule: 'true', reason: 'Nope' }, { rule: 'true', fieldPath: '.zz' }, { rule: 'true', messageExpression: '1' }],
        },
      },
    };
    const issues = compileSchemaRules(bad).issues.map((i) => [i.schemaPath, i.index, i.field, i.kind]);
    assert.deepEqual(issues, [
      ['properties[spec]', 0, 'rule', 'Invalid'],
      ['properties[spec]', 1, 'rule', 'Required'],
      ['properties[spec]', 2, 'reason', 'NotSupported'],
      ['properties[spec]', 3, 'fieldPath', 'Invalid'],
      ['properties[spec]', 4, 'messageExpression', 'Invalid'],
    ]);
  });
});
