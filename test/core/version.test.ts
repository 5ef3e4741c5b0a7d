import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKubeletVersion } from '../../src/render/version.js';

const cases: Array<[string, string, [number, number, number] | undefined]> = [
  ['plain v-prefixed', 'v1.29.3', [1, 29, 3]],
  ['EKS suffix', 'v1.30.1-eks-abc', [1, 30, 1]],
  ['k3s build metadata', '1.27.0+k3s1', [1, 27, 0]],
  ['GKE suffix', 'v1.31.2-gke.1200', [1, 31, 2]],
  ['pre-release', 'v1.34.0-rc.1', [1, 34, 0]],
  ['no patch', 'v1.25', [1, 25, 0]],
  ['surrounding space', ' v1.28.4 ', [1, 28, 4]],
  ['two-digit minor beyond today', 'v1.40.0', [1, 40, 0]],
  ['empty', '', undefined],
  ['words', 'latest', undefined],
  ['missing minor', 'v1', undefined],
  ['garbage suffix without separator', 'v1.29.3eks', undefined],
];

for (const [name, raw, want] of cases) {
  test(`version: ${name} (${JSON.stringify(raw)})`, () => {
    const v = parseKubeletVersion(raw);
    if (want === undefined) assert.equal(v, undefined);
    else assert.deepEqual(v && [v.major, v.minor, v.patch], want);
  });
}
