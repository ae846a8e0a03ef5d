import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';

/**
 * Where coordinator settings come from (flags, TESTUDO_* environment, a YAML
 * file), how each value remembers its origin for error messages, and the
 * error every bad setting raises. `config.ts` merges and validates.
 */

export const CONFIG_FIELDS = [
  'id',
  'listen',
  'advertise',
  'peers',
  'join',
  'dataDir',
  'http',
  'clusterId',
  'tickMs',
  'electionTicks',
  'heartbeatTicks',
  'readMode',
  'snapshotEntries',
  'snapshotBytes',
  'snapshotCatchUpEntries',
  'readyLagEntriesMax',
  'messageBytesMax',
  'workerTtlMs',
  'workerGraceMs',
  'runRetentionMs',
  'unschedulableTimeoutMs',
  'workerResetTimeoutMs',
  'alertWebhookUrl',
  'route',
  'logLevel',
  'chaosHooks',
  'tlsCert',
  'tlsKey',
  'tlsCa',
  'tlsClientAuth',
  'insecure',
  'authFile',
  'tokenFile',
] as const;
export type ConfigField = (typeof CONFIG_FIELDS)[number];

/** A configuration value is missing, malformed or contradicts another. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Where the value came from: 'flag --tick-ms', 'env TESTUDO_TICK_MS', 'file /etc/testudo.yaml:7', or several joined by ' and '. */
  readonly source: string;
  /** The setting, camelCase as in the YAML file ('tickMs'), or 'config' for the file itself. */
  readonly field: string;
  /** What a valid value looks like. */
  readonly expected: string;

  constructor(details: { source: string; field: string; expected: string; problem?: string; got?: unknown; cause?: unknown }) {
    const problem = details.problem ?? `expected ${details.expected}`;
    const got = 'got' in details ? `, got ${formatGot(details.got)}` : '';
    super(`${details.source}: ${details.field}: ${problem}${got}`, { cause: details.cause });
    this.source = details.source;
    this.field = details.field;
    this.expected = details.expected;
  }
}

/** The command-line flag for a field: tickMs → --tick-ms. */
export function flagName(field: ConfigField): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The environment variable for a field: tickMs → TESTUDO_TICK_MS. */
export function envName(field: ConfigField): string {
  return `TESTUDO_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

// ---------------------------------------------------------------------------
// Sources

export interface Origin {
  readonly kind: 'flag' | 'env' | 'file' | 'default';
  /** Flag or variable name, or the file path. */
  readonly name: string;
  readonly line?: number;
}

export interface Raw {
  readonly value: unknown;
  readonly origin: Origin;
}

export function describe(origin: Origin): string {
  switch (origin.kind) {
    case 'flag':
      return `flag ${origin.name}`;
    case 'env':
      return `env ${origin.name}`;
    case 'file':
      return `file ${origin.name}:${origin.line ?? 1}`;
    case 'default':
      return 'default';
  }
}

export class Sources {
  private readonly layers: readonly ReadonlyMap<ConfigField, Raw>[];
  private readonly used = new Map<ConfigField, Origin>();
  private readonly derived = new Map<ConfigField, string>();

  constructor(...layers: ReadonlyMap<ConfigField, Raw>[]) {
    this.layers = layers;
  }

  /** The value from the highest source that sets `field`. */
  get(field: ConfigField): Raw | undefined {
    for (const layer of this.layers) {
      const raw = layer.get(field);
      if (raw !== undefined) {
        this.used.set(field, raw.origin);
        return raw;
      }
    }
    return undefined;
  }

  required(field: ConfigField, expected: string): Raw {
    const raw = this.get(field);
    if (raw === undefined) throw missing(field, expected);
    return raw;
  }

  /** Records that an unset `field` was derived from others, e.g. 'derived from peers'. */
  derive(field: ConfigField, how: string): void {
    if (!this.used.has(field)) this.derived.set(field, how);
  }

  /** Where `field` came from, for errors about a value that was defaulted or derived. */
  describe(field: ConfigField): string {
    const origin = this.used.get(field);
    return origin === undefined ? (this.derived.get(field) ?? 'default') : describe(origin);
  }

  describeAll(): Record<ConfigField, string> {
    return Object.fromEntries(CONFIG_FIELDS.map((field) => [field, this.describe(field)])) as Record<ConfigField, string>;
  }
}

export function missing(field: ConfigField, expected: string): ConfigError {
  return new ConfigError({
    source: `${flagName(field)}, ${envName(field)} and the config file`,
    field,
    expected,
    problem: `missing: set ${flagName(field)}, ${envName(field)} or '${field}' in the config file to ${expected}`,
  });
}

export function configPathFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined {
  const fromFlag = flags['config'];
  if (typeof fromFlag === 'string' && fromFlag !== '') return fromFlag;
  if (fromFlag !== undefined && fromFlag !== null) {
    throw new ConfigError({ source: 'flag --config', field: 'config', expected: 'a YAML file path', got: fromFlag });
  }
  const fromEnv = env['TESTUDO_CONFIG'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

export function readFlags(flags: Record<string, unknown>): Map<ConfigField, Raw> {
  const layer = new Map<ConfigField, Raw>();
  for (const [key, value] of Object.entries(flags)) {
    if (key === 'config') continue;
    if (!isConfigField(key)) {
      throw new ConfigError({ source: `flag ${key}`, field: key, expected: `one of ${CONFIG_FIELDS.join(', ')}`, problem: `unknown flag ${JSON.stringify(key)}` });
    }
    if (value === undefined || value === null) continue;
    layer.set(key, { value, origin: { kind: 'flag', name: flagName(key) } });
  }
  return layer;
}

/** Kubernetes injects <SERVICE>_PORT… and <SERVICE>_SERVICE_… for a Service named "testudo"; those are not ours. */
const FOREIGN_ENV = /^TESTUDO_(PORT|SERVICE_)/;

export function readEnv(env: NodeJS.ProcessEnv, warnings: string[]): Map<ConfigField, Raw> {
  const layer = new Map<ConfigField, Raw>();
  const known = new Set<string>(['TESTUDO_CONFIG']);
  for (const field of CONFIG_FIELDS) {
    const name = envName(field);
    known.add(name);
    const value = env[name];
    if (value !== undefined && value !== '') layer.set(field, { value, origin: { kind: 'env', name } });
  }
  const logLevel = env['LOG_LEVEL'];
  if (!layer.has('logLevel') && logLevel !== undefined && logLevel !== '') {
    layer.set('logLevel', { value: logLevel, origin: { kind: 'env', name: 'LOG_LEVEL' } });
  }
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith('TESTUDO_') && !known.has(name) && !FOREIGN_ENV.test(name)) {
      warnings.push(`unrecognized environment variable ${name} (ignored)`);
    }
  }
  return layer;
}

export function readConfigFile(path: string): Map<ConfigField, Raw> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError({ source: `file ${path}`, field: 'config', expected: 'a readable YAML file', problem: `cannot read config file (${code})`, cause: error });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    const line = syntaxError.linePos?.[0].line ?? 1;
    const firstLine = syntaxError.message.split('\n')[0] ?? syntaxError.message;
    throw new ConfigError({ source: `file ${path}:${line}`, field: 'config', expected: 'valid YAML', problem: `invalid YAML: ${firstLine}`, cause: syntaxError });
  }
  const layer = new Map<ConfigField, Raw>();
  const contents = doc.contents;
  if (contents === null) return layer;
  if (!isMap(contents)) {
    throw new ConfigError({ source: `file ${path}:1`, field: 'config', expected: 'a mapping of camelCase keys (id: n1, tickMs: 20, …)' });
  }
  let values: Record<string, unknown>;
  try {
    values = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError({ source: `file ${path}`, field: 'config', expected: 'plain YAML', problem: `cannot read YAML: ${String(error)}`, cause: error });
  }
  for (const pair of contents.items) {
    const keyLine = isScalar(pair.key) && pair.key.range !== undefined ? lineCounter.linePos(pair.key.range[0]).line : 1;
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!isConfigField(key)) throw unknownKey(path, keyLine, key);
    const value = values[key];
    if (value === null || value === undefined) continue;
    layer.set(key, { value, origin: { kind: 'file', name: path, line: keyLine } });
  }
  return layer;
}

export function unknownKey(path: string, line: number, key: string): ConfigError {
  const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const near = CONFIG_FIELDS.find((field) => squash(field) === squash(key));
  return new ConfigError({
    source: `file ${path}:${line}`,
    field: key,
    expected: `one of ${CONFIG_FIELDS.join(', ')}`,
    problem: `unknown key ${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean ${near}?)`}; expected one of ${CONFIG_FIELDS.join(', ')}`,
  });
}

export function isConfigField(key: string): key is ConfigField {
  return (CONFIG_FIELDS as readonly string[]).includes(key);
}

export function baseDir(origin: Origin, configPath: string | undefined): string {
  return origin.kind === 'file' && configPath !== undefined ? dirname(resolvePath(configPath)) : process.cwd();
}

function formatGot(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
