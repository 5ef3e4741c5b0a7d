// Regenerates the CRD from src/api/schema.ts: crds/ and the chart's byte-for-byte copy
// (`npm run gen`, which also runs gen-docs.ts). Tests fail when any of them differ.
import { writeFile } from 'node:fs/promises';
import { CRD_FILE, CRD_NAME, crdYaml } from '../src/api/crd.js';

const CHART_COPY = `charts/kubelet-tracing-operator/files/${CRD_NAME}.yaml`;
for (const file of [CRD_FILE, CHART_COPY]) {
  await writeFile(new URL(`../${file}`, import.meta.url), crdYaml());
  process.stdout.write(`wrote ${file}\n`);
}
