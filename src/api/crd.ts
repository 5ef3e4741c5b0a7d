// Builds the CustomResourceDefinition from the one schema. `kto crd` prints it and
// crds/nodetracingpolicies.nodetracing.dev.yaml is this output, checked by a test.
import { stringify } from 'yaml';
import { crdSchema } from './schema.js';
import { GROUP, KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION } from './types.js';

export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const CRD_FILE = `crds/${CRD_NAME}.yaml`;

/** Structural CRD schemas may not say `additionalProperties: false` (the API server prunes
 *  unknown fields instead, and rejects them under fieldValidation=Strict); ajv keeps it. */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'additionalProperties' && v === false) continue;
    out[k] = structural(v);
  }
  return out;
}

export function buildCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'kubelet-tracing-operator' },
    },
    spec: {
      group: GROUP,
      scope: 'Cluster',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [SHORT_NAME],
        // `kubectl get nodetracing` lists every kind of the project (one, for now).
        categories: ['nodetracing'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Target', type: 'integer', jsonPath: '.status.targetNodes' },
            { name: 'Updated', type: 'integer', jsonPath: '.status.updatedNodes' },
            { name: 'Failed', type: 'integer', jsonPath: '.status.failedNodes' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            // Why not Ready: RolloutInProgress, RolloutPaused, RolloutHalted, RolloutBlocked, InvalidSpec, Removing.
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: structural(crdSchema) },
        },
      ],
    },
  };
}

export function crdYaml(): string {
  return (
    '# Generated from src/api/schema.ts by `kto crd` (npm run gen). Do not edit by hand.\n' +
    stringify(buildCrd(), { lineWidth: 0 })
  );
}
