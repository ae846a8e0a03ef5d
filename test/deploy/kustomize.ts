import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { parseAllDocuments } from 'yaml';

/**
 * A small kustomize for the kustomizations in deploy/k8s, so CI can render
 * and validate them without kubectl. It supports only what they use, and
 * refuses anything else rather than ignore it:
 *
 * - `resources` (YAML files, or folders holding a kustomization.yaml),
 * - `configMapGenerator` with `files` or `literals` and
 *   `options.disableNameSuffixHash: true` (a hashed name would need every
 *   reference rewritten),
 * - `namespace` (set on every namespaced object),
 * - `images` (`newName`, `newTag`, `digest` on the pod templates' containers),
 * - `replicas` (`spec.replicas` of the named workload),
 * - `patches` with a `target` (kind and name) and an inline JSON 6902
 *   `patch` (`add`, `replace`, `remove`); a target that matches nothing is
 *   an error, where kustomize would say nothing.
 *
 * Transformations apply in kustomize's order for these fields: resources,
 * generators, patches, namespace, images, replicas.
 */

export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

export class KustomizeError extends Error {
  override readonly name = 'KustomizeError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

const knownKeys = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'namespace', 'images', 'replicas', 'patches']);
/** Kinds that live outside any namespace (only those these manifests could hold). */
const clusterScopedKinds = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'StorageClass', 'PersistentVolume']);
/** Nesting of kustomizations (an overlay of an overlay of a base …) before a cycle is assumed. */
const depthMax = 8;

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  configMapGenerator?: { name: string; files?: string[]; literals?: string[]; options?: { disableNameSuffixHash?: boolean } }[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { target?: { kind?: string; name?: string }; patch?: string; path?: string }[];
}

/** Renders the kustomization in `dir` (a folder holding kustomization.yaml). */
export function renderKustomization(dir: string, depth = 0): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  if (depth > depthMax) throw new KustomizeError(file, `kustomizations nested more than ${depthMax} deep (a cycle?)`);
  const k = readYamlDocuments(file)[0] as Kustomization | undefined;
  if (k === undefined || typeof k !== 'object') throw new KustomizeError(file, 'is empty');
  for (const key of Object.keys(k)) if (!knownKeys.has(key)) throw new KustomizeError(file, `field ${key} is not supported by this renderer`);
  if (k.kind !== 'Kustomization' || k.apiVersion !== 'kustomize.config.k8s.io/v1beta1') throw new KustomizeError(file, 'must be apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization');

  const objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path, depth + 1));
    else objects.push(...(readYamlDocuments(path).map((doc) => asObject(doc, path))));
  }
  for (const generator of k.configMapGenerator ?? []) objects.push(generateConfigMap(dir, file, generator));
  for (const patch of k.patches ?? []) applyPatch(file, objects, patch);
  if (k.namespace !== undefined) {
    for (const o of objects) if (!clusterScopedKinds.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const image of k.images ?? []) setImage(file, objects, image);
  for (const r of k.replicas ?? []) setReplicas(file, objects, r);
  assertUnique(file, objects);
  return objects;
}

export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new KustomizeError(file, doc.errors.map((e) => e.message).join('; '));
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function asObject(doc: unknown, file: string): K8sObject {
  const o = doc as Partial<K8sObject>;
  if (typeof o !== 'object' || o === null || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
    throw new KustomizeError(file, 'holds a document without apiVersion, kind and metadata.name');
  }
  return o as K8sObject;
}

function generateConfigMap(dir: string, file: string, g: NonNullable<Kustomization['configMapGenerator']>[number]): K8sObject {
  if (g.options?.disableNameSuffixHash !== true) throw new KustomizeError(file, `configMapGenerator ${g.name}: only options.disableNameSuffixHash: true is supported`);
  const data: Record<string, string> = {};
  for (const f of g.files ?? []) data[basename(f)] = readFileSync(resolve(dir, f), 'utf8');
  for (const literal of g.literals ?? []) {
    const eq = literal.indexOf('=');
    if (eq <= 0) throw new KustomizeError(file, `configMapGenerator ${g.name}: literal ${JSON.stringify(literal)} is not key=value`);
    data[literal.slice(0, eq)] = literal.slice(eq + 1);
  }
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data };
}

function applyPatch(file: string, objects: K8sObject[], p: NonNullable<Kustomization['patches']>[number]): void {
  if (p.patch === undefined || p.path !== undefined) throw new KustomizeError(file, 'only inline patches (patch:) are supported');
  const target = p.target;
  if (target?.kind === undefined || target.name === undefined) throw new KustomizeError(file, 'a patch needs target.kind and target.name');
  const matches = objects.filter((o) => o.kind === target.kind && o.metadata.name === target.name);
  if (matches.length === 0) throw new KustomizeError(file, `patch target ${target.kind}/${target.name} matches no resource`);
  const ops = readYamlString(file, p.patch);
  if (!Array.isArray(ops)) throw new KustomizeError(file, `patch for ${target.kind}/${target.name} is not a JSON 6902 list of operations (strategic merge patches are not supported)`);
  for (const o of matches) for (const op of ops as JsonPatchOp[]) applyJsonPatchOp(file, o, op);
}

function readYamlString(file: string, text: string): unknown {
  const docs = parseAllDocuments(text);
  if (docs.length !== 1 || docs[0]!.errors.length > 0) throw new KustomizeError(file, `patch does not parse: ${docs[0]?.errors.map((e) => e.message).join('; ') ?? 'empty'}`);
  return docs[0]!.toJS();
}

export interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

/** One RFC 6902 operation (add, replace, remove) on `doc`, in place. */
export function applyJsonPatchOp(file: string, doc: object, op: JsonPatchOp): void {
  if (!['add', 'replace', 'remove'].includes(op.op)) throw new KustomizeError(file, `patch op ${op.op} is not supported (add, replace, remove)`);
  if (typeof op.path !== 'string' || !op.path.startsWith('/')) throw new KustomizeError(file, `patch path ${JSON.stringify(op.path)} is not a JSON pointer`);
  const tokens = op.path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop()!;
  let parent: unknown = doc;
  for (const token of tokens) {
    parent = Array.isArray(parent) ? parent[arrayIndex(file, op, parent, token, false)] : (parent as Record<string, unknown> | undefined)?.[token];
    if (typeof parent !== 'object' || parent === null) throw new KustomizeError(file, `patch path ${op.path}: ${token} does not exist`);
  }
  if (Array.isArray(parent)) {
    const index = arrayIndex(file, op, parent, last, op.op === 'add');
    if (op.op === 'add') parent.splice(index, 0, op.value);
    else if (op.op === 'replace') parent[index] = op.value;
    else parent.splice(index, 1);
    return;
  }
  const record = parent as Record<string, unknown>;
  if (op.op !== 'add' && !(last in record)) throw new KustomizeError(file, `patch ${op.op} ${op.path}: nothing there`);
  if (op.op === 'remove') delete record[last];
  else record[last] = op.value;
}

function arrayIndex(file: string, op: JsonPatchOp, array: unknown[], token: string, adding: boolean): number {
  if (adding && token === '-') return array.length;
  const index = /^(0|[1-9]\d*)$/.test(token) ? Number(token) : -1;
  if (index < 0 || index > array.length || (!adding && index === array.length)) throw new KustomizeError(file, `patch path ${op.path}: index ${token} out of range`);
  return index;
}

/** The containers of a workload's pod template (Deployment, StatefulSet, …). */
export function podContainers(o: K8sObject): Record<string, unknown>[] {
  const spec = (o['spec'] as { template?: { spec?: { containers?: unknown[]; initContainers?: unknown[] } } } | undefined)?.template?.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])] as Record<string, unknown>[];
}

function setImage(file: string, objects: K8sObject[], image: NonNullable<Kustomization['images']>[number]): void {
  let hits = 0;
  for (const o of objects) {
    for (const c of podContainers(o)) {
      const current = String(c['image']);
      const name = current.split('@')[0]!.replace(/:[^:/]+$/, '');
      if (name !== image.name) continue;
      const tag = image.digest !== undefined ? `@${image.digest}` : image.newTag !== undefined ? `:${image.newTag}` : current.slice(name.length);
      c['image'] = `${image.newName ?? name}${tag}`;
      hits++;
    }
  }
  if (hits === 0) throw new KustomizeError(file, `images: no container uses image ${image.name}`);
}

function setReplicas(file: string, objects: K8sObject[], r: NonNullable<Kustomization['replicas']>[number]): void {
  const matches = objects.filter((o) => o.metadata.name === r.name && ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind));
  if (matches.length === 0) throw new KustomizeError(file, `replicas: no workload named ${r.name}`);
  for (const o of matches) (o['spec'] as Record<string, unknown>)['replicas'] = r.count;
}

function assertUnique(file: string, objects: K8sObject[]): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(key)) throw new KustomizeError(file, `resource ${key} appears twice`);
    seen.add(key);
  }
}
