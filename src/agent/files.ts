// What the agent writes for a desired config, in either layout. Planning (what would change) is
// separate from writing, so apply can compare, snapshot and roll back.
//   drop-in mode: we own <dropinDir>/90-nodetracing.conf; removal deletes it.
//   main mode: we edit the kubelet's own config comment-preservingly. A state file next to it
//   records which paths we set and what was there before, so removal restores the user's own
//   values and never deletes them. A backup of the original is kept once.
import { mkdir, readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { dirname, join } from 'node:path';
import { isMap, isNode, parse, parseDocument, stringify, type Document } from 'yaml';
import { DROPIN_FILE } from '../api/annotations.js';
import { type FsOps, realFsOps, removeFileDurable, writeFileAtomic } from './atomic.js';
import type { KubeletLayout } from './detect.js';
import { errCode } from '../util/errors.js';

export type KubeletConfigObject = { [k: string]: unknown };

export const MANAGED_HEADER =
  '# managed by kubelet-tracing-operator: written by its node agent, which rewrites or removes it.\n' +
  '# Do not edit: change the NodeTracingPolicy instead.\n';

const KUBELET_API_VERSION = 'kubelet.config.k8s.io/v1beta1';
const KUBELET_KIND = 'KubeletConfiguration';

export const backupPath = (configFile: string): string => `${configFile}.nodetracing.bak`;
export const statePath = (configFile: string): string => `${configFile}.nodetracing.state.json`;
export const dropinPath = (dropinDir: string): string => join(dropinDir, DROPIN_FILE);

/** One file to write (content) or delete (null). */
export interface FileChange {
  path: string;
  content: string | null;
}

/** The bytes of some files at one moment; null = absent. */
export interface Snapshot {
  files: FileChange[];
}

export async function readIfExists(path: string, ops: FsOps = realFsOps): Promise<string | null> {
  if (ops.readText) return ops.readText(path);
  try {
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/** The last drop-ins rendered, by the config's JSON: the apply, the drift checks and the
 *  rollback ask for the same few configs again and again, and YAML rendering is the costly part
 *  of each (the embedded cluster's agents, one thread for thousands of nodes, share it). */
const rendered = new Map<string, string>();
const RENDERED_MAX = 64;

/** The drop-in file's exact bytes for a desired config. */
export function renderDropin(config: KubeletConfigObject): string {
  // JSON reads -0 as 0; YAML writes it as -0.
  const key = JSON.stringify(config, (_k, v: unknown) => (Object.is(v, -0) ? '\u0000-0' : v));
  const hit = rendered.get(key);
  if (hit !== undefined) return hit;
  const { apiVersion, kind, ...rest } = config;
  const doc = { apiVersion: apiVersion ?? KUBELET_API_VERSION, kind: kind ?? KUBELET_KIND, ...rest };
  const text = MANAGED_HEADER + stringify(doc);
  if (rendered.size >= RENDERED_MAX) rendered.delete(rendered.keys().next().value as string);
  rendered.set(key, text);
  return text;
}

/** Files the agent may change for this layout (what a snapshot must cover): in main mode the
 *  backup too, which the first apply writes and the removal deletes. */
export function managedFiles(layout: KubeletLayout): string[] {
  return layout.mode === 'dropin'
    ? [dropinPath(layout.dropinDir)]
    : [layout.configFile, statePath(layout.configFile), backupPath(layout.configFile)];
}

/** The changes that bring the files to `config` (null = remove ours); [] when already there. */
export async function planChanges(layout: KubeletLayout, config: KubeletConfigObject | null, ops: FsOps = realFsOps): Promise<FileChange[]> {
  if (layout.mode === 'dropin') {
    const path = dropinPath(layout.dropinDir);
    const current = await readIfExists(path, ops);
    const want = config === null ? null : renderDropin(config);
    return current === want ? [] : [{ path, content: want }];
  }
  return planMain(layout.configFile, config, ops);
}

export async function writeChanges(changes: readonly FileChange[], ops: FsOps = realFsOps): Promise<void> {
  for (const c of changes) {
    if (c.content === null) {
      await removeFileDurable(c.path, ops);
      continue;
    }
    // Someone may have removed the whole drop-in directory (a drift repair puts it back).
    await (ops.mkdirp ? ops.mkdirp(dirname(c.path)) : mkdir(dirname(c.path), { recursive: true }));
    await writeFileAtomic(c.path, c.content, ops);
  }
}

export async function takeSnapshot(paths: readonly string[], ops: FsOps = realFsOps): Promise<Snapshot> {
  const files: FileChange[] = [];
  for (const path of paths) files.push({ path, content: await readIfExists(path, ops) });
  return { files };
}

export async function restoreSnapshot(s: Snapshot, ops: FsOps = realFsOps): Promise<void> {
  // managedFiles order: in main mode the config goes back before the state file that describes
  // it (an interrupted restore is finished from the journal by the next run anyway).
  const changes: FileChange[] = [];
  for (const f of s.files) {
    if ((await readIfExists(f.path, ops)) !== f.content) changes.push(f);
  }
  await writeChanges(changes, ops);
}

/** Convenience: plan and write. Returns whether anything changed. */
export async function applyConfig(layout: KubeletLayout, config: KubeletConfigObject | null, ops: FsOps = realFsOps): Promise<boolean> {
  const changes = await planChanges(layout, config, ops);
  await writeChanges(changes, ops);
  return changes.length > 0;
}

export const removeConfig = (layout: KubeletLayout, ops: FsOps = realFsOps): Promise<boolean> => applyConfig(layout, null, ops);

// ---- main mode ----

/** A path we set in the main config, and what was there before us. */
interface ManagedEntry {
  path: string[];
  had: boolean;
  prior?: unknown;
  /** A map we created only to hold our keys (featureGates): removed again once empty. */
  container?: boolean;
}

interface MainState {
  version: 1;
  entries: ManagedEntry[];
}

function isEntry(v: unknown): v is ManagedEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as { path?: unknown; had?: unknown };
  return Array.isArray(e.path) && e.path.every((p) => typeof p === 'string') && typeof e.had === 'boolean';
}

async function readState(path: string, ops: FsOps): Promise<MainState | undefined> {
  const text = await readIfExists(path, ops);
  if (text === null) return undefined;
  const v: unknown = JSON.parse(text);
  const entries = typeof v === 'object' && v !== null && 'entries' in v ? v.entries : undefined;
  if (!Array.isArray(entries) || !entries.every(isEntry)) throw new Error(`${path}: not a node agent state file`);
  return { version: 1, entries };
}

/** Paths of the desired config we manage: top-level fields, and featureGates gate by gate. */
export function desiredPaths(config: KubeletConfigObject): Array<{ path: string[]; value: unknown }> {
  const out: Array<{ path: string[]; value: unknown }> = [];
  for (const [k, v] of Object.entries(config)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (k === 'featureGates' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [gate, on] of Object.entries(v)) out.push({ path: ['featureGates', gate], value: on });
    } else {
      out.push({ path: [k], value: v });
    }
  }
  return out;
}

const key = (p: readonly string[]): string => JSON.stringify(p);

function getJs(doc: Document, path: string[]): unknown {
  const n: unknown = doc.getIn(path, true);
  return isNode(n) ? n.toJSON() : n;
}

function restoreEntry(doc: Document, e: ManagedEntry): void {
  if (e.container) {
    const m: unknown = doc.getIn(e.path, true);
    if (isMap(m) && m.items.length === 0) doc.deleteIn(e.path);
    return;
  }
  if (!e.had) doc.deleteIn(e.path);
  else if (!isDeepStrictEqual(getJs(doc, e.path), e.prior)) doc.setIn(e.path, doc.createNode(e.prior));
}

/** The kubelet's main config, as text and as a YAML document that keeps its comments. */
async function readMainConfig(configFile: string, ops: FsOps): Promise<{ text: string; doc: Document }> {
  const text = await readIfExists(configFile, ops);
  if (text === null) throw new Error(`kubelet config ${configFile} does not exist`);
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`kubelet config ${configFile} is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
  if (!isMap(doc.contents)) throw new Error(`kubelet config ${configFile} is not a YAML map`);
  return { text, doc };
}

async function planMain(configFile: string, config: KubeletConfigObject | null, ops: FsOps): Promise<FileChange[]> {
  const { text, doc } = await readMainConfig(configFile, ops);
  const stateFile = statePath(configFile);
  const state = await readState(stateFile, ops);
  const old = state?.entries ?? [];
  const want = config === null ? [] : desiredPaths(config);
  const wanted = new Set(want.map((w) => key(w.path)));

  // 1. Give back what we set earlier and no longer want, newest first (so a map we created
  //    is looked at after the keys in it).
  const has = (list: ManagedEntry[], path: string[]): boolean => list.some((e) => key(e.path) === key(path));
  const stillWanted = (e: ManagedEntry): boolean =>
    e.container ? want.some((w) => w.path.length > e.path.length && key(w.path.slice(0, e.path.length)) === key(e.path)) : wanted.has(key(e.path));
  for (const e of [...old].reverse()) if (!stillWanted(e)) restoreEntry(doc, e);
  const entries = old.filter(stillWanted);

  // 2. Set what is desired; the first time we touch a key, remember what was there before us.
  for (const w of want) {
    const parent = w.path.slice(0, -1);
    if (parent.length > 0 && !doc.hasIn(parent) && !has(entries, parent)) entries.unshift({ path: parent, had: false, container: true });
    if (!has(entries, w.path)) {
      entries.push(doc.hasIn(w.path) ? { path: w.path, had: true, prior: getJs(doc, w.path) } : { path: w.path, had: false });
    }
    if (!isDeepStrictEqual(getJs(doc, w.path), w.value)) doc.setIn(w.path, doc.createNode(w.value));
  }

  const newText = doc.toString();
  const configChanged = newText !== text && !isDeepStrictEqual(parse(newText), parse(text));
  const newState = entries.length > 0 ? JSON.stringify({ version: 1, entries } satisfies MainState, null, 2) + '\n' : null;
  const changes: FileChange[] = [];
  if (config === null) {
    if (configChanged) changes.push({ path: configFile, content: newText });
    if (state !== undefined) changes.push({ path: stateFile, content: null });
    // The user's original is back in place: its copy would only be left lying around.
    if ((await readIfExists(backupPath(configFile), ops)) !== null) changes.push({ path: backupPath(configFile), content: null });
    return changes;
  }
  if (!configChanged) return [];
  if ((await readIfExists(backupPath(configFile), ops)) === null) changes.push({ path: backupPath(configFile), content: text });
  // The state goes first: if we die between the two, the next run still knows what to give back.
  changes.push({ path: stateFile, content: newState });
  changes.push({ path: configFile, content: newText });
  return changes;
}
