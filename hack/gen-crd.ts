// Regenerates crds/ from src/api/schema.ts: `npm run gen`. A test fails when they differ.
import { writeFile } from 'node:fs/promises';
import { CRD_FILE, crdYaml } from '../src/api/crd.js';

await writeFile(new URL(`../${CRD_FILE}`, import.meta.url), crdYaml());
process.stdout.write(`wrote ${CRD_FILE}\n`);
