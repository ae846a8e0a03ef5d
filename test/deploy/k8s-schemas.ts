import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as apps from 'kubernetes-models/apps/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';

/**
 * Checks Kubernetes objects against the API's schemas, as packaged by
 * kubernetes-models (generated from the Kubernetes OpenAPI definitions) and
 * @kubernetes-models/keda (KEDA's CRDs): types, required fields, enums.
 *
 * Those schemas accept fields they do not define, as the API server's
 * non-strict decoding does, so a misspelt field (`publishNotReadyAdresses`)
 * would pass. The check therefore also reports every field the validator
 * never looked at: the validator reads each property its schema defines (and
 * every key of a map), so a field it never read is one the schema does not
 * know, like kubectl's `--validate=strict`.
 */

interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  readonly prototype: { validate(): void };
}

function modelsOf(group: Record<string, unknown>): ModelClass[] {
  return Object.values(group).filter((v): v is ModelClass => typeof v === 'function' && typeof (v as Partial<ModelClass>).apiVersion === 'string' && typeof (v as Partial<ModelClass>).kind === 'string');
}

const models = new Map(
  [core, apps, policy, keda].flatMap((group) => modelsOf(group as Record<string, unknown>)).map((m) => [`${m.apiVersion} ${m.kind}`, m] as const),
);

/** Records which keys of which objects were read, through proxies. */
class ReadTracker {
  private readonly read = new WeakMap<object, Set<string>>();
  private readonly proxies = new WeakMap<object, object>();

  wrap<T>(value: T): T {
    if (typeof value !== 'object' || value === null) return value;
    const known = this.proxies.get(value);
    if (known !== undefined) return known as T;
    const keys = new Set<string>();
    this.read.set(value, keys);
    const proxy = new Proxy(value, {
      get: (target, key, receiver) => {
        if (typeof key === 'string') keys.add(key);
        return this.wrap(Reflect.get(target, key, receiver) as unknown);
      },
    });
    this.proxies.set(value, proxy);
    return proxy;
  }

  /** Paths of the keys of `value` (and below) that were never read. */
  unread(value: unknown, path: string): string[] {
    if (Array.isArray(value)) return value.flatMap((v, i) => this.unread(v, `${path}[${i}]`));
    if (typeof value !== 'object' || value === null) return [];
    const keys = this.read.get(value) ?? new Set<string>();
    return Object.keys(value).flatMap((k) => (keys.has(k) ? this.unread((value as Record<string, unknown>)[k], `${path}.${k}`) : [`${path}.${k}`]));
  }
}

/** What is wrong with `o` against its schema; empty when it is valid. */
export function schemaProblems(o: { apiVersion?: unknown; kind?: unknown; [field: string]: unknown }): string[] {
  const model = models.get(`${String(o.apiVersion)} ${String(o.kind)}`);
  if (model === undefined) return [`no schema for apiVersion ${String(o.apiVersion)}, kind ${String(o.kind)}`];
  const tracker = new ReadTracker();
  const problems: string[] = [];
  try {
    model.prototype.validate.call(tracker.wrap(o));
  } catch (error) {
    problems.push((error as Error).message);
  }
  for (const path of tracker.unread(o, '')) problems.push(`${path.slice(1)}: not a field of ${String(o.kind)} (misspelt, or from another API version?)`);
  return problems;
}
