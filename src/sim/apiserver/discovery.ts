// Discovery: /version, /api, /apis (aggregated per group and version) and the OpenAPI documents,
// as kubectl and client-node read them before their first request on a resource.

import { gvDocument, v2Document, v3Index } from './openapi.js';
import type { Registry } from './registry.js';

export interface DiscoverySource {
  registry: Registry;
  gitVersion: string;
  serverAddress: () => string;
}

/** The document at a discovery path; undefined: not a discovery path; null: one that does not exist. */
export function discoveryDocument(seg: string[], src: DiscoverySource): object | null | undefined {
  const reg = src.registry;
  switch (seg.join('/')) {
    case 'version':
      return versionInfo(src.gitVersion);
    case 'api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: src.serverAddress() }] };
    case 'api/v1':
      return reg.resourceList('', 'v1') ?? null;
    case 'apis':
      return reg.apiGroupList();
    case 'openapi/v2':
      return v2Document(reg);
    case 'openapi/v3':
      return v3Index(reg);
  }
  const [root, group = '', version = ''] = seg;
  if (root === 'apis' && seg.length === 2) return reg.apiGroup(group) ?? null;
  if (root === 'apis' && seg.length === 3) return reg.resourceList(group, version) ?? null;
  if (root === 'openapi' && seg[1] === 'v3') return openapiV3Document(reg, seg.slice(2));
  return undefined;
}

/** `/openapi/v3/api/v1` and `/openapi/v3/apis/<group>/<version>`. */
function openapiV3Document(reg: Registry, gvPath: string[]): object | null {
  const [prefix, a = '', b = ''] = gvPath;
  if (prefix === 'api' && a === 'v1' && gvPath.length === 2) return gvDocument(reg, '', 'v1') ?? null;
  if (prefix === 'apis' && gvPath.length === 3) return gvDocument(reg, a, b) ?? null;
  return null;
}

function versionInfo(gitVersion: string): object {
  const m = /^v(\d+)\.(\d+)/.exec(gitVersion);
  return { major: m?.[1] ?? '1', minor: m?.[2] ?? '32', gitVersion, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23.4', compiler: 'gc', platform: 'linux/amd64' };
}
