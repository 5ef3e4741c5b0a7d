// ESLint: typescript-eslint's strict type-checked rules, plus size budgets (in the spirit of
// pepr's lint config): a long or branchy function usually hides two ideas. Runs in `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'charts/**', '**/*.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      complexity: ['error', 25],
      'max-depth': ['error', 5],
      'max-params': ['error', 6],
      // client-node's models are classes by declaration only: its own examples pass object
      // literals, and the serializer reads plain objects.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': ['error', { allow: [{ from: 'package', package: '@kubernetes/client-node', name: ['V1Lease', 'V1LeaseSpec', 'V1ObjectMeta', 'V1Node', 'V1NodeSpec', 'V1NodeStatus'] }] }],
      // Numbers and booleans read well in messages; objects and undefined are what this catches.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => void x()` and `(r) => setTimeout(r, n)` are the idiom for callbacks.
      // `return void reply(...)` is the early return of a handler that answers and stops.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidOperator: true }],
      '@typescript-eslint/no-meaningless-void-operator': 'off',
      // `async` on a method that need not await keeps the promise contract of its interface, and
      // turns a throw into a rejection, which is what its callers handle.
      '@typescript-eslint/require-await': 'off',
      // `{ a: _a, ...rest }` drops a key on purpose; `_x` marks an argument a signature needs.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // The CLI definition is declarative: one chain of commands and options, read top to bottom.
    files: ['src/cli.ts'],
    rules: { 'max-lines-per-function': 'off' },
  },
  {
    // Tests and benches: the same type-checked rules, minus those that fight their idioms.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // node:test's describe()/test() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite'] }] }],
      // Tests read JSON that kubectl and the API server print: asserting its shape is the test.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // Fixtures are built by taking keys off parsed documents.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // After an assert.ok(x), `x!` is what a reader expects.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Tests check data typed looser than it is (JSON from a process, a cast fixture).
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // A describe() block is a list of tests, not one idea.
      'max-lines-per-function': 'off',
    },
  },
);
