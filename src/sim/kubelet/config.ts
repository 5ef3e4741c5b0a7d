// How the simulated kubelet loads and validates its configuration. Written from the kubelet's
// behaviour (DESIGN.md "Facts"), deliberately independent of src/render and src/validate so that
// the embedded cluster is a real check of what the renderer produces.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { goUrlScheme } from './gourl.js';
import { deleteKey } from '../apiserver/types.js';
import { deepFreeze } from '../../util/freeze.js';

export const KUBELET_API_VERSION = 'kubelet.config.k8s.io/v1beta1';
export const KUBELET_KIND = 'KubeletConfiguration';

export type JsonObject = { [k: string]: unknown };

export interface KubeletVersion {
  major: number;
  minor: number;
  patch: number;
}

export function parseKubeletVersion(v: string): KubeletVersion {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  if (!m) throw new Error(`invalid kubelet version ${JSON.stringify(v)}`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? '0') };
}

/** Minor version for a 1.x kubelet: all we need to compare. */
export function minorOf(v: KubeletVersion): number {
  return v.major === 1 ? v.minor : v.major * 1000;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch, as the kubelet applies drop-ins (evanphx/json-patch MergePatch). */
export function jsonMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) deleteKey(out, k);
    else out[k] = jsonMergePatch(out[k], v);
  }
  return out;
}

/** Other gates the simulated kubelet knows, so a typo in one is rejected like the real one. */
const OTHER_KNOWN_GATES = new Set([
  'GracefulNodeShutdown',
  'GracefulNodeShutdownBasedOnPodPriority',
  'NodeSwap',
  'RotateKubeletServerCertificate',
  'KubeletInUserNamespace',
  'SidecarContainers',
  'InPlacePodVerticalScaling',
  'MemoryQoS',
]);

type GateStage = 'unknown' | 'alpha' | 'beta' | 'ga-locked' | 'removed';

export function kubeletTracingStage(minor: number): GateStage {
  if (minor < 25) return 'unknown';
  if (minor < 27) return 'alpha';
  if (minor < 34) return 'beta';
  if (minor < 37) return 'ga-locked';
  return 'removed';
}

export interface ValidationResult {
  /** The config the kubelet runs with (what /configz shows). */
  effective: JsonObject;
  warnings: string[];
}

/**
 * Validates a merged KubeletConfiguration for a kubelet minor version. Throws with the kubelet's
 * wording on anything that would stop the real kubelet.
 */
export function validateKubeletConfig(merged: JsonObject, minor: number): ValidationResult {
  const warnings: string[] = [];
  const effective: JsonObject = { ...merged };
  const stage = kubeletTracingStage(minor);

  const gates = merged['featureGates'];
  let tracingGate: boolean;
  switch (stage) {
    case 'unknown':
    case 'alpha':
      tracingGate = false;
      break;
    default:
      tracingGate = true;
  }
  if (gates !== undefined && gates !== null) {
    if (!isObject(gates)) throw new Error('failed to decode featureGates: expected a map of gate names to booleans');
    for (const [name, value] of Object.entries(gates)) {
      if (typeof value !== 'boolean') {
        throw new Error(`invalid value of ${name}: ${JSON.stringify(value)}, err: expected a boolean`);
      }
      if (name !== 'KubeletTracing') {
        if (!OTHER_KNOWN_GATES.has(name)) throw new Error(`unrecognized feature gate: ${name}`);
        continue;
      }
      if (stage === 'unknown' || stage === 'removed') throw new Error('unrecognized feature gate: KubeletTracing');
      if (stage === 'ga-locked') {
        if (!value) throw new Error('cannot set feature gate KubeletTracing to false, feature is locked to true');
        warnings.push('Setting GA feature gate KubeletTracing=true. It will be removed in a future release.');
      }
      tracingGate = stage === 'ga-locked' ? true : value;
    }
  }

  const tracing = merged['tracing'];
  if (tracing !== undefined && tracing !== null) {
    if (minor < 25) {
      // Unknown field: the kubelet's lenient decoder drops it with a warning.
      warnings.push('unknown field "tracing"');
      delete effective['tracing'];
    } else {
      if (!tracingGate) {
        throw new Error(
          'invalid configuration: tracing is not supported when the KubeletTracing feature gate is disabled (tracing: Forbidden)',
        );
      }
      validateTracing(tracing);
    }
  }
  return { effective, warnings };
}

function validateTracing(tracing: unknown): void {
  if (!isObject(tracing)) throw new Error('invalid configuration: tracing: Invalid value: expected an object');
  const rate = tracing['samplingRatePerMillion'];
  if (rate !== undefined && rate !== null) {
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 0 || rate > 1_000_000) {
      throw new Error(
        `invalid configuration: tracing.samplingRatePerMillion: Invalid value: ${JSON.stringify(rate)}: sampling rate must be between 0 and 1000000`,
      );
    }
  }
  const endpoint = tracing['endpoint'];
  if (endpoint !== undefined && endpoint !== null) {
    if (typeof endpoint !== 'string') {
      throw new Error(`invalid configuration: tracing.endpoint: Invalid value: ${JSON.stringify(endpoint)}: must be a string`);
    }
    // component-base tracing/api/v1 validateEndpoint: no "//" means a gRPC dns target, then Go's
    // url.Parse and a scheme check. The value in the message is the rewritten one, as there.
    const withScheme = endpoint.includes('//') ? endpoint : `dns://${endpoint}`;
    const parsed = goUrlScheme(withScheme);
    if ('error' in parsed) {
      throw new Error(`invalid configuration: tracing.endpoint: Invalid value: ${JSON.stringify(withScheme)}: ${parsed.error}`);
    }
    if (!['dns', 'unix', 'unix-abstract'].includes(parsed.scheme)) {
      throw new Error(
        `invalid configuration: tracing.endpoint: Invalid value: ${JSON.stringify(withScheme)}: unsupported scheme: ${parsed.scheme}.  Options are none, dns, unix, or unix-abstract.  See https://github.com/grpc/grpc/blob/master/doc/naming.md`,
      );
    }
  }
}

/** Parsed config texts, by text: thousands of nodes start with the same file, and a rollout
 *  writes the same drop-in to every node of a version. Frozen, so sharing one is safe. */
const parsed = new Map<string, unknown>();

function parseOnce(text: string): unknown {
  if (parsed.has(text)) return parsed.get(text);
  const doc = deepFreeze(parseYaml(text) as unknown);
  if (parsed.size >= 64) parsed.delete(parsed.keys().next().value ?? '');
  parsed.set(text, doc);
  return doc;
}

function decodeKubeletConfiguration(text: string, file: string): JsonObject {
  let doc: unknown;
  try {
    doc = parseOnce(text);
  } catch (e: unknown) {
    throw new Error(`failed to decode kubelet config file ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!isObject(doc)) throw new Error(`failed to decode kubelet config file ${file}: not a YAML map`);
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== 'string' || apiVersion === '' || typeof kind !== 'string' || kind === '') {
    throw new Error(`failed to decode kubelet config file ${file}: object must have apiVersion and kind`);
  }
  if (apiVersion !== KUBELET_API_VERSION || kind !== KUBELET_KIND) {
    throw new Error(`failed to decode kubelet config file ${file}: no kind "${kind}" is registered for version "${apiVersion}"`);
  }
  return doc;
}

export interface LoadInput {
  /** Absolute path on this machine of the main config file. */
  configFile: string;
  /** Absolute path on this machine of --config-dir, when the flag is given. */
  dropinDir?: string;
  /** Environment of the kubelet process. */
  env: Record<string, string>;
  minor: number;
}

export interface LoadResult extends ValidationResult {
  /** Files read, in merge order. */
  files: string[];
}

/** Reads the main config and the drop-ins, merges and validates them like the kubelet at start.
 *  With synchronous calls: the nodes' files are small and in memory (tmpfs), and thousands of
 *  kubelets restart in a rollout, where a thread-pool round trip per file cost more than the read. */
export async function loadKubeletConfig(input: LoadInput): Promise<LoadResult> {
  const files = [input.configFile];
  let merged = decodeKubeletConfiguration(readFileSync(input.configFile, 'utf8'), input.configFile);
  if (input.dropinDir !== undefined) {
    if (input.minor < 28) throw new Error('unknown flag: --config-dir');
    if (input.minor < 30 && !('KUBELET_CONFIG_DROPIN_DIR_ALPHA' in input.env)) {
      throw new Error('flag --config-dir specified but environment variable KUBELET_CONFIG_DROPIN_DIR_ALPHA not set');
    }
    let names: string[] = [];
    try {
      names = readdirSync(input.dropinDir);
    } catch (e: unknown) {
      if (!(e instanceof Error && 'code' in e && e.code === 'ENOENT')) throw e;
    }
    // The kubelet sorts by name and reads only *.conf: temp files and backups are ignored.
    for (const name of names.filter((n) => n.endsWith('.conf')).sort()) {
      const file = join(input.dropinDir, name);
      const patch = decodeKubeletConfiguration(readFileSync(file, 'utf8'), file);
      files.push(file);
      const next = jsonMergePatch(merged, patch);
      if (!isObject(next)) throw new Error(`failed to merge drop-in ${file}`);
      merged = next;
    }
  }
  return { ...validateKubeletConfig(merged, input.minor), files };
}
