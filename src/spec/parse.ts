// Reads a testudo.yaml into a validated, normalized RunSpec. Every problem is
// located (line, column, field path) and all of them are reported at once.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import type { Requirements } from '../model/types.js';
import { MAX_SPEC_ERRORS, SpecError, SpecValidationError, type SpecLocation } from './errors.js';
import { binaryProblem, controlCharacterProblem } from './text.js';
import { printable } from '../common/printable.js';
import {
  ProblemList,
  derefNode,
  describeNode,
  joinPath,
  nodePosition,
  readBoolean,
  readInteger,
  readString,
  readYamlText,
  suggestKey,
  unknownKeyDetail,
  type Read,
  type StringRules,
} from '../common/yaml-check/index.js';

// The key suggestions are the shared kit's; spec callers keep importing them from here.
export { editDistance, suggestKey } from '../common/yaml-check/index.js';

/** The limits a spec must respect. */
export const SPEC_LIMITS = {
  maxFileBytes: 1024 * 1024,
  maxNameLength: 128,
  maxSuites: 1000,
  maxSuiteNameLength: 64,
  maxShards: 1000,
  maxMatrixCells: 256,
  maxTasks: 50_000,
  minPriority: -1000,
  maxPriority: 1000,
  maxTimeoutSec: 86_400,
  maxRetries: 10,
  maxCpus: 4096,
  maxMemoryMb: 16 * 1024 * 1024,
} as const;

/** Defaults of the optional suite fields. */
export const SPEC_DEFAULTS = {
  cwd: '.',
  shards: 1,
  shardBy: 'count',
  priority: 0,
  timeoutSec: 600,
  retries: 0,
  exclusive: false,
} as const;

/**
 * Matrix keys that are also worker label names: a matrix over one of these
 * pins each cell to workers whose label equals the cell's value (unless the
 * suite's requirements set that label explicitly).
 */
export const MATRIX_LABEL_KEYS: readonly string[] = ['os', 'arch', 'region', 'browser'];

/** The file name `loadSpec` looks for when given a directory. */
export const DEFAULT_SPEC_FILE = 'testudo.yaml';

export type ShardStrategy = 'count' | 'timings' | 'queue';

/** The values of `shards.by`, in the order the spec's errors name them. */
export const SHARD_STRATEGIES: readonly ShardStrategy[] = ['count', 'timings', 'queue'];

export interface MatrixAxis {
  readonly name: string;
  /** Scalar values as strings, in declaration order, unique. */
  readonly values: readonly string[];
}

export interface SetupSpec {
  readonly commands: readonly string[];
  /** After `${VAR}` expansion; the sha256 of the commands when not given. */
  readonly cacheKey: string;
}

export interface SuiteSpec {
  readonly name: string;
  readonly command: string;
  /** Normalized (posix); relative to the checkout, or absolute. */
  readonly cwd: string;
  /** Globs relative to `<checkout>/<cwd>`; empty when the suite has no `files`. */
  readonly files: readonly string[];
  readonly shards: number;
  readonly shardBy: ShardStrategy;
  /** The explicit requirements (matrix label keys are applied at expansion). */
  readonly requirements: Requirements;
  readonly priority: number;
  readonly timeoutSec: number;
  readonly retries: number;
  readonly exclusive: boolean;
  readonly env: Readonly<Record<string, string>>;
  /** In declaration order; empty when the suite has no matrix. */
  readonly matrix: readonly MatrixAxis[];
  /** Where the suite, its `files` and its `shards` are (for expansion errors). */
  readonly location: SpecLocation;
  readonly filesLocation: SpecLocation;
  /** Where each glob of `files` is (same order). */
  readonly fileLocations: readonly SpecLocation[];
  readonly shardsLocation: SpecLocation;
}

/** A validated, normalized testudo.yaml. */
export interface RunSpec {
  readonly name: string;
  readonly setup: SetupSpec;
  readonly env: Readonly<Record<string, string>>;
  readonly suites: readonly SuiteSpec[];
  readonly suitesLocation: SpecLocation;
}

export interface ParsedSpec {
  /** The file name as given (the prefix of error messages). */
  readonly file: string;
  /** Absolute directory the spec's relative paths resolve against by default. */
  readonly sourceDir: string;
  readonly spec: RunSpec;
  readonly warnings: readonly string[];
}

export type SpecEnv = Readonly<Record<string, string | undefined>>;

export interface ParseSpecOptions {
  readonly file: string;
  readonly sourceDir: string;
  /** For `${NAME}` references in `setup.cacheKey`; defaults to `process.env`. */
  readonly env?: SpecEnv;
}

export interface LoadSpecOptions {
  /** For `${NAME}` references in `setup.cacheKey`; defaults to `process.env`. */
  readonly env?: SpecEnv;
}

const ROOT_KEYS = ['name', 'setup', 'env', 'suites'] as const;
const SETUP_KEYS = ['commands', 'cacheKey'] as const;
const SUITE_KEYS = [
  'name',
  'command',
  'cwd',
  'files',
  'shards',
  'requirements',
  'priority',
  'timeoutSec',
  'retries',
  'exclusive',
  'env',
  'matrix',
] as const;
const SHARDS_KEYS = ['count', 'by'] as const;
const REQUIREMENT_SPECIAL_KEYS = ['cpus', 'memoryMb', 'tools'] as const;
/** Label keys that are almost certainly a misspelt special key. */
const REQUIREMENT_NEAR_MISSES: Readonly<Record<string, string>> = {
  cpu: 'cpus',
  cpus: 'cpus',
  cores: 'cpus',
  mem: 'memoryMb',
  memory: 'memoryMb',
  memorymb: 'memoryMb',
  memmb: 'memoryMb',
  tool: 'tools',
  tools: 'tools',
};

const SUITE_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MATRIX_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const LABEL_NAME_RE = /^[A-Za-z0-9_./-]{1,64}$/;
const TOOL_NAME_RE = /^[A-Za-z0-9_.+-]{1,64}$/;
const RESERVED_ENV_PREFIX = 'TESTUDO_';

interface Entry {
  readonly key: YamlNode;
  readonly value: YamlNode | null;
}

/**
 * Expands `${NAME}`, `${NAME:-default}` (default when unset or empty) and
 * `${NAME-default}` (default when unset); `$$` is a literal `$`. Other `$`
 * characters are kept. Returns the problems instead of throwing.
 */
export function expandEnvReferences(
  text: string,
  env: SpecEnv,
): { readonly value: string; readonly problems: readonly string[] } {
  const problems: string[] = [];
  const value = text.replace(/\$\$|\$\{([^}]*)\}|\$\{/g, (match, inner: string | undefined) => {
    if (match === '$$') return '$';
    if (inner === undefined) {
      problems.push('unclosed "${" (write "$$" for a literal "$")');
      return match;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?$/s.exec(inner);
    if (m === null) {
      problems.push(`malformed reference "${match}" (use \${NAME} or \${NAME:-default})`);
      return match;
    }
    const name = m[1] ?? '';
    const operator = m[2];
    const fallback = m[3] ?? '';
    const current = env[name];
    if (operator === ':-') return current === undefined || current === '' ? fallback : current;
    if (operator === '-') return current === undefined ? fallback : current;
    if (current === undefined) {
      problems.push(`environment variable ${name} is not set (use \${${name}:-default} to give a default)`);
      return '';
    }
    return current;
  });
  return { value, problems };
}

/** The default setup cache key: the sha256 of the commands, one a line. */
export function defaultCacheKey(commands: readonly string[]): string {
  return createHash('sha256').update(commands.join('\n')).digest('hex');
}

class Validator {
  readonly problems = new ProblemList<SpecError>();
  readonly warnings: string[] = [];

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  location(node: YamlNode | null | undefined, fallback?: YamlNode | null): SpecLocation {
    return nodePosition(this.lines, node, fallback);
  }

  /** "expected X, got <node>" at the node. */
  expected(node: YamlNode | null, at: YamlNode | null | undefined, field: string, expected: string): void {
    const loc = this.location(node, at);
    this.problems.push(new SpecError({ file: this.file, ...loc, field, expected, got: describeNode(node) }));
  }

  /** A problem stated in words, at the node. */
  problem(at: YamlNode | null | undefined, field: string, detail: string, expected = ''): void {
    this.problemAt(this.location(at), field, detail, expected);
  }

  problemAt(loc: SpecLocation, field: string, detail: string, expected = '', got = ''): void {
    this.problems.push(new SpecError({ file: this.file, ...loc, field, expected, got, detail }));
  }

  warn(at: YamlNode | null | undefined, field: string, text: string): void {
    const loc = this.location(at);
    this.warnings.push(printable(`${this.file}:${loc.line}:${loc.column}: ${field}: ${text}`));
  }

  /** Follows aliases (`*name`) to the node they stand for. */
  deref(node: YamlNode | null): YamlNode | null {
    return derefNode(this.doc, node);
  }

  /** The node's value read by `read`, or undefined with the refusal reported at the node. */
  private take<T>(target: YamlNode | null, at: YamlNode | null | undefined, field: string, read: Read<T>): T | undefined {
    if (!read.refused) return read.value;
    this.expected(target, at, field, read.expected);
    return undefined;
  }

  /**
   * The entries of a mapping, in order. Reports duplicated keys, non-string
   * keys and (when `known` is given) unknown keys, which are left out.
   */
  map(node: YamlNode | null, at: YamlNode | null | undefined, field: string, known: readonly string[] | null): Map<string, Entry> | undefined {
    const target = this.deref(node);
    if (!isMap(target)) {
      this.expected(target, at, field, 'a mapping');
      return undefined;
    }
    const out = new Map<string, Entry>();
    const firstLine = new Map<string, number>();
    for (const pair of target.items) {
      const keyNode = this.deref(pair.key as YamlNode | null);
      const valueNode = (pair.value ?? null) as YamlNode | null;
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.expected(keyNode, target, field === '' ? '(key)' : `${field} (key)`, 'a plain string key');
        continue;
      }
      const key = String(keyNode.value);
      const keyField = joinPath(field, key);
      const seen = firstLine.get(key);
      if (seen !== undefined) {
        this.problem(keyNode, keyField, `duplicated key "${key}" (first set on line ${seen})`);
        continue;
      }
      firstLine.set(key, this.location(keyNode).line);
      if (known !== null && !known.includes(key)) {
        this.problem(keyNode, keyField, unknownKeyDetail(key, known, true), `one of ${known.join(', ')}`);
        continue;
      }
      out.set(key, { key: keyNode, value: valueNode });
    }
    return out;
  }

  /** The items of a list (aliases resolved). */
  list(node: YamlNode | null, at: YamlNode | null | undefined, field: string, expected = 'a list'): (YamlNode | null)[] | undefined {
    const target = this.deref(node);
    if (!isSeq(target)) {
      this.expected(target, at, field, expected);
      return undefined;
    }
    return target.items.map((item) => this.deref((item ?? null) as YamlNode | null));
  }

  string(node: YamlNode | null, at: YamlNode | null | undefined, field: string, rules: StringRules = {}): string | undefined {
    const target = this.deref(node);
    return this.take(target, at, field, readString(isScalar(target) ? target.value : undefined, rules));
  }

  integer(node: YamlNode | null, at: YamlNode | null | undefined, field: string, min: number, max: number): number | undefined {
    const target = this.deref(node);
    return this.take(target, at, field, readInteger(isScalar(target) ? target.value : undefined, min, max));
  }

  boolean(node: YamlNode | null, at: YamlNode | null | undefined, field: string): boolean | undefined {
    const target = this.deref(node);
    return this.take(target, at, field, readBoolean(isScalar(target) ? target.value : undefined));
  }

  /** A string, number or boolean, as a string (numbers keep their YAML spelling). */
  scalarText(node: YamlNode | null, at: YamlNode | null | undefined, field: string, expected: string): string | undefined {
    const target = this.deref(node);
    const value = isScalar(target) ? target.value : undefined;
    if (typeof value === 'string') return this.string(target, at, field, { min: 0, max: Number.MAX_SAFE_INTEGER, expected });
    if (typeof value === 'boolean') return String(value);
    if (isScalar(target) && (typeof value === 'number' || typeof value === 'bigint')) {
      const source = target.source;
      return typeof source === 'string' && source !== '' ? source : String(value);
    }
    this.expected(target, at, field, expected);
    return undefined;
  }
}

function parseEnvMap(v: Validator, entry: Entry, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = v.map(entry.value, entry.key, field, null);
  if (entries === undefined) return out;
  for (const [name, e] of entries) {
    const f = joinPath(field, name);
    if (!ENV_NAME_RE.test(name)) {
      v.problem(e.key, f, `"${name}" is not a valid environment variable name`, 'a name like FOO_BAR ([A-Za-z_][A-Za-z0-9_]*)');
      continue;
    }
    if (name.toUpperCase().startsWith(RESERVED_ENV_PREFIX)) {
      v.problem(e.key, f, `names starting with ${RESERVED_ENV_PREFIX} are reserved for the variables Testudo sets`);
      continue;
    }
    const value = v.scalarText(e.value, e.key, f, 'a string, number or boolean');
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function parseSetup(v: Validator, entry: Entry, env: SpecEnv): SetupSpec | undefined {
  const node = v.deref(entry.value);
  let commandsEntry: Entry | undefined;
  let cacheKeyEntry: Entry | undefined;
  let commandsField = 'setup';
  if (isSeq(node)) {
    commandsEntry = { key: entry.key, value: node };
  } else if (isMap(node)) {
    const entries = v.map(node, entry.key, 'setup', SETUP_KEYS);
    if (entries === undefined) return undefined;
    commandsEntry = entries.get('commands');
    cacheKeyEntry = entries.get('cacheKey');
    commandsField = 'setup.commands';
    if (commandsEntry === undefined) {
      v.problemAt(v.location(node), 'setup.commands', 'missing required key "commands"', 'a list of commands');
      return undefined;
    }
  } else {
    v.expected(node, entry.key, 'setup', 'a list of commands or a mapping with commands and cacheKey');
    return undefined;
  }
  const items = v.list(commandsEntry.value, commandsEntry.key, commandsField, 'a list of commands');
  if (items === undefined) return undefined;
  const commands: string[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const command = v.string(item, commandsEntry.value, `${commandsField}[${i}]`, { expected: 'a non-empty command string' });
    if (command === undefined) ok = false;
    else if (command.trim() === '') {
      v.expected(item, commandsEntry.value, `${commandsField}[${i}]`, 'a non-empty command string');
      ok = false;
    } else commands.push(command);
  });
  let cacheKey = defaultCacheKey(commands);
  if (cacheKeyEntry !== undefined) {
    const raw = v.scalarText(cacheKeyEntry.value, cacheKeyEntry.key, 'setup.cacheKey', 'a non-empty string');
    if (raw === undefined) return undefined;
    const expanded = expandEnvReferences(raw, env);
    for (const problem of expanded.problems) v.problem(cacheKeyEntry.value ?? cacheKeyEntry.key, 'setup.cacheKey', problem);
    if (expanded.problems.length > 0) return undefined;
    if (expanded.value.trim() === '') {
      v.problem(
        cacheKeyEntry.value ?? cacheKeyEntry.key,
        'setup.cacheKey',
        `"${raw}" expands to an empty string; give a default with \${NAME:-default}`,
        'a non-empty string',
      );
      return undefined;
    }
    cacheKey = expanded.value;
  }
  return ok ? { commands, cacheKey } : undefined;
}

function parseFiles(v: Validator, entry: Entry, field: string): { globs: string[]; locations: SpecLocation[] } | undefined {
  const node = v.deref(entry.value);
  const expected = 'a glob or a non-empty list of globs';
  let items: { node: YamlNode | null; field: string }[];
  if (isScalar(node) && typeof node.value === 'string') items = [{ node, field }];
  else if (isSeq(node)) {
    if (node.items.length === 0) {
      v.expected(node, entry.key, field, expected);
      return undefined;
    }
    items = node.items.map((item, i) => ({ node: v.deref((item ?? null) as YamlNode | null), field: `${field}[${i}]` }));
  } else {
    v.expected(node, entry.key, field, expected);
    return undefined;
  }
  const globs: string[] = [];
  const locations: SpecLocation[] = [];
  for (const item of items) {
    const glob = v.string(item.node, entry.key, item.field, { expected: 'a non-empty glob relative to the suite cwd' });
    if (glob === undefined) continue;
    const positive = glob.startsWith('!') ? glob.slice(1) : glob;
    if (positive === '' || posix.isAbsolute(positive) || /^[A-Za-z]:[\\/]/.test(positive)) {
      v.expected(item.node, entry.key, item.field, 'a non-empty glob relative to the suite cwd');
      continue;
    }
    globs.push(glob);
    locations.push(v.location(item.node, entry.key));
  }
  if (globs.length === items.length && globs.every((g) => g.startsWith('!'))) {
    v.expected(node, entry.key, field, 'at least one glob that is not a negation (!pattern)');
    return undefined;
  }
  return globs.length === items.length ? { globs, locations } : undefined;
}

const shardStrategiesText = '"count", "timings" or "queue"';

function parseShards(v: Validator, entry: Entry, field: string): { count: number; by: ShardStrategy } | undefined {
  const node = v.deref(entry.value);
  if (isMap(node)) {
    const entries = v.map(node, entry.key, field, SHARDS_KEYS);
    if (entries === undefined) return undefined;
    const countEntry = entries.get('count');
    const byEntry = entries.get('by');
    const count = countEntry === undefined ? SPEC_DEFAULTS.shards : v.integer(countEntry.value, countEntry.key, `${field}.count`, 1, SPEC_LIMITS.maxShards);
    let by: ShardStrategy = SPEC_DEFAULTS.shardBy;
    if (byEntry !== undefined) {
      const text = v.string(byEntry.value, byEntry.key, `${field}.by`, { expected: shardStrategiesText });
      const strategy = SHARD_STRATEGIES.find((s) => s === text);
      if (strategy !== undefined) by = strategy;
      else if (text !== undefined) {
        const near = suggestKey(text, SHARD_STRATEGIES);
        v.expected(v.deref(byEntry.value), byEntry.key, `${field}.by`, `${shardStrategiesText}${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
        return undefined;
      } else return undefined;
    }
    return count === undefined ? undefined : { count, by };
  }
  if (isScalar(node) && typeof node.value === 'number') {
    const count = v.integer(node, entry.key, field, 1, SPEC_LIMITS.maxShards);
    return count === undefined ? undefined : { count, by: SPEC_DEFAULTS.shardBy };
  }
  v.expected(node, entry.key, field, `an integer from 1 to ${SPEC_LIMITS.maxShards}`);
  return undefined;
}

function parseRequirements(v: Validator, entry: Entry, field: string): Requirements | undefined {
  const entries = v.map(entry.value, entry.key, field, null);
  if (entries === undefined) return undefined;
  const labels: Record<string, string> = {};
  let cpus = 0;
  let memoryMb = 0;
  let tools: string[] = [];
  let ok = true;
  for (const [key, e] of entries) {
    const f = joinPath(field, key);
    if (key === 'cpus') {
      const n = v.integer(e.value, e.key, f, 0, SPEC_LIMITS.maxCpus);
      if (n === undefined) ok = false;
      else cpus = n;
    } else if (key === 'memoryMb') {
      const n = v.integer(e.value, e.key, f, 0, SPEC_LIMITS.maxMemoryMb);
      if (n === undefined) ok = false;
      else memoryMb = n;
    } else if (key === 'tools') {
      const items = v.list(e.value, e.key, f, 'a list of executable names');
      if (items === undefined) {
        ok = false;
        continue;
      }
      const names = new Set<string>();
      items.forEach((item, i) => {
        const name = v.string(item, e.value, `${f}[${i}]`, { pattern: TOOL_NAME_RE, expected: 'an executable name like node or docker' });
        if (name === undefined) ok = false;
        else names.add(name);
      });
      tools = [...names].sort();
    } else {
      const nearMiss = REQUIREMENT_NEAR_MISSES[key.toLowerCase().replace(/[-_]/g, '')];
      if (nearMiss !== undefined) {
        v.problem(e.key, f, `unknown key "${key}" (did you mean "${nearMiss}"?)`, `one of ${REQUIREMENT_SPECIAL_KEYS.join(', ')} or a label name`);
        ok = false;
        continue;
      }
      if (!LABEL_NAME_RE.test(key)) {
        v.problem(e.key, f, `"${key}" is not a valid label name`, 'a label name ([A-Za-z0-9_./-], at most 64 characters)');
        ok = false;
        continue;
      }
      const value = v.scalarText(e.value, e.key, f, 'a label value (string, number or boolean)');
      if (value === undefined) ok = false;
      else labels[key] = value;
    }
  }
  return ok ? { labels, cpus, memoryMb, tools } : undefined;
}

function parseMatrix(v: Validator, entry: Entry, field: string): MatrixAxis[] | undefined {
  const entries = v.map(entry.value, entry.key, field, null);
  if (entries === undefined) return undefined;
  const axes: MatrixAxis[] = [];
  let ok = true;
  for (const [name, e] of entries) {
    const f = joinPath(field, name);
    if (!MATRIX_NAME_RE.test(name)) {
      v.problem(e.key, f, `"${name}" is not a valid matrix key (it becomes an environment variable name)`, 'a name like locale ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters)');
      ok = false;
      continue;
    }
    if (name.toUpperCase().startsWith(RESERVED_ENV_PREFIX)) {
      v.problem(e.key, f, `names starting with ${RESERVED_ENV_PREFIX} are reserved for the variables Testudo sets`);
      ok = false;
      continue;
    }
    const items = v.list(e.value, e.key, f, 'a non-empty list of values');
    if (items === undefined) {
      ok = false;
      continue;
    }
    if (items.length === 0) {
      v.expected(v.deref(e.value), e.key, f, 'a non-empty list of values');
      ok = false;
      continue;
    }
    const values: string[] = [];
    items.forEach((item, i) => {
      const value = v.scalarText(item, e.value, `${f}[${i}]`, 'a string, number or boolean');
      if (value === undefined) {
        ok = false;
        return;
      }
      if (values.includes(value)) {
        v.problem(item ?? e.value, `${f}[${i}]`, `duplicated matrix value "${value}"`);
        ok = false;
        return;
      }
      values.push(value);
    });
    axes.push({ name, values });
  }
  if (!ok) return undefined;
  const cells = axes.reduce((n, axis) => n * axis.values.length, 1);
  if (cells > SPEC_LIMITS.maxMatrixCells) {
    v.problem(
      v.deref(entry.value),
      field,
      `expected at most ${SPEC_LIMITS.maxMatrixCells} matrix cells, got ${cells} (${axes.map((a) => a.values.length).join(' × ')})`,
      `at most ${SPEC_LIMITS.maxMatrixCells} matrix cells`,
    );
    return undefined;
  }
  return axes;
}

function parseCwd(v: Validator, entry: Entry, field: string): string | undefined {
  const raw = v.string(entry.value, entry.key, field, { expected: 'a directory path' });
  if (raw === undefined) return undefined;
  const normalized = posix.normalize(raw.replace(/\\/g, '/'));
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

function parseSuite(v: Validator, node: YamlNode | null, at: YamlNode | null, index: number, runEnv: Readonly<Record<string, string>>): SuiteSpec | undefined {
  const field = `suites[${index}]`;
  const entries = v.map(node, at, field, SUITE_KEYS);
  if (entries === undefined) return undefined;
  const location = v.location(node, at);
  let ok = true;
  const need = <T>(value: T | undefined): T | undefined => {
    if (value === undefined) ok = false;
    return value;
  };
  const required = (key: string, expected: string): Entry | undefined => {
    const e = entries.get(key);
    if (e === undefined) {
      v.problemAt(location, `${field}.${key}`, `missing required key "${key}"`, expected);
      ok = false;
    }
    return e;
  };

  const nameEntry = required('name', `a suite name ([A-Za-z0-9_.-], 1 to ${SPEC_LIMITS.maxSuiteNameLength} characters)`);
  const name =
    nameEntry &&
    need(
      v.string(nameEntry.value, nameEntry.key, `${field}.name`, {
        pattern: SUITE_NAME_RE,
        expected: `a suite name ([A-Za-z0-9_.-], 1 to ${SPEC_LIMITS.maxSuiteNameLength} characters)`,
      }),
    );
  const commandEntry = required('command', 'a non-empty command string');
  let command: string | undefined;
  if (commandEntry !== undefined) {
    command = need(v.string(commandEntry.value, commandEntry.key, `${field}.command`, { expected: 'a non-empty command string' }));
    if (command !== undefined && command.trim() === '') {
      v.expected(v.deref(commandEntry.value), commandEntry.key, `${field}.command`, 'a non-empty command string');
      ok = false;
    }
  }

  const get = <T>(key: string, parse: (e: Entry, f: string) => T | undefined, fallback: T): T => {
    const e = entries.get(key);
    if (e === undefined) return fallback;
    return need(parse(e, `${field}.${key}`)) ?? fallback;
  };
  const cwd = get('cwd', (e, f) => parseCwd(v, e, f), SPEC_DEFAULTS.cwd as string);
  const files = get('files', (e, f) => parseFiles(v, e, f), { globs: [] as string[], locations: [] as SpecLocation[] });
  const shards = get('shards', (e, f) => parseShards(v, e, f), { count: SPEC_DEFAULTS.shards as number, by: SPEC_DEFAULTS.shardBy as ShardStrategy });
  const requirements = get('requirements', (e, f) => parseRequirements(v, e, f), { labels: {}, cpus: 0, memoryMb: 0, tools: [] } as Requirements);
  const priority = get('priority', (e, f) => v.integer(e.value, e.key, f, SPEC_LIMITS.minPriority, SPEC_LIMITS.maxPriority), SPEC_DEFAULTS.priority as number);
  const timeoutSec = get('timeoutSec', (e, f) => v.integer(e.value, e.key, f, 1, SPEC_LIMITS.maxTimeoutSec), SPEC_DEFAULTS.timeoutSec as number);
  const retries = get('retries', (e, f) => v.integer(e.value, e.key, f, 0, SPEC_LIMITS.maxRetries), SPEC_DEFAULTS.retries as number);
  const exclusive = get('exclusive', (e, f) => v.boolean(e.value, e.key, f), SPEC_DEFAULTS.exclusive as boolean);
  const env = get('env', (e, f) => parseEnvMap(v, e, f), {} as Record<string, string>);
  const matrix = get('matrix', (e, f) => parseMatrix(v, e, f), [] as MatrixAxis[]);
  if (!ok || name === undefined || command === undefined) return undefined;

  const matrixEntry = entries.get('matrix');
  for (const axis of matrix) {
    if (MATRIX_LABEL_KEYS.includes(axis.name) && Object.hasOwn(requirements.labels, axis.name)) {
      v.warn(
        matrixEntry?.value,
        `${field}.matrix.${axis.name}`,
        `requirements.${axis.name} is set explicitly, so every cell requires ${axis.name}=${requirements.labels[axis.name] ?? ''} (the matrix value does not pin the worker)`,
      );
    }
    if (Object.hasOwn(env, axis.name) || Object.hasOwn(runEnv, axis.name)) {
      v.warn(matrixEntry?.value, `${field}.matrix.${axis.name}`, `${axis.name} is also an env variable; the command receives the matrix value`);
    }
  }
  if (files.globs.length === 0 && shards.by === 'queue') {
    v.problem(entries.get('shards')?.value, `${field}.shards.by`, 'queue mode hands out files, and this suite has no `files`', 'a suite with `files`, or `by: count`');
  }
  if (files.globs.length === 0 && shards.count > 1 && !command.includes('TESTUDO_SHARD')) {
    v.warn(
      entries.get('shards')?.value,
      `${field}.shards`,
      `${shards.count} shards without files: every shard runs the same command, which should use $TESTUDO_SHARD_INDEX/$TESTUDO_SHARD_COUNT to pick its part`,
    );
  }
  const filesEntry = entries.get('files');
  const shardsEntry = entries.get('shards');
  return {
    name,
    command,
    cwd,
    files: files.globs,
    shards: shards.count,
    shardBy: shards.by,
    requirements,
    priority,
    timeoutSec,
    retries,
    exclusive,
    env,
    matrix,
    location,
    filesLocation: filesEntry === undefined ? location : v.location(filesEntry.value, filesEntry.key),
    fileLocations: files.locations,
    shardsLocation: shardsEntry === undefined ? location : v.location(shardsEntry.value, shardsEntry.key),
  };
}

function parseRoot(v: Validator, doc: Document, env: SpecEnv): RunSpec | undefined {
  const root = v.deref((doc.contents ?? null) as YamlNode | null);
  if (root === null || (isScalar(root) && root.value === null)) {
    v.problemAt({ line: 1, column: 1 }, '', 'the spec is empty', 'a mapping with at least name and suites');
    return undefined;
  }
  const entries = v.map(root, null, '', ROOT_KEYS);
  if (entries === undefined) return undefined;
  const rootLoc = v.location(root);
  let ok = true;

  let name: string | undefined;
  const nameEntry = entries.get('name');
  if (nameEntry === undefined) {
    v.problemAt(rootLoc, 'name', 'missing required key "name"', `a string of 1 to ${SPEC_LIMITS.maxNameLength} characters`);
    ok = false;
  } else {
    name = v.string(nameEntry.value, nameEntry.key, 'name', {
      max: SPEC_LIMITS.maxNameLength,
      expected: `a string of 1 to ${SPEC_LIMITS.maxNameLength} characters`,
    });
    if (name === undefined) ok = false;
  }

  let setup: SetupSpec | undefined = { commands: [], cacheKey: defaultCacheKey([]) };
  const setupEntry = entries.get('setup');
  if (setupEntry !== undefined) {
    setup = parseSetup(v, setupEntry, env);
    if (setup === undefined) ok = false;
  }

  let runEnv: Record<string, string> = {};
  const envEntry = entries.get('env');
  if (envEntry !== undefined) runEnv = parseEnvMap(v, envEntry, 'env');

  const suites: SuiteSpec[] = [];
  const suitesEntry = entries.get('suites');
  let suitesLocation = rootLoc;
  if (suitesEntry === undefined) {
    v.problemAt(rootLoc, 'suites', 'missing required key "suites"', `a list of 1 to ${SPEC_LIMITS.maxSuites} suites`);
    ok = false;
  } else {
    suitesLocation = v.location(suitesEntry.value, suitesEntry.key);
    const expected = `a list of 1 to ${SPEC_LIMITS.maxSuites} suites`;
    const items = v.list(suitesEntry.value, suitesEntry.key, 'suites', expected);
    if (items === undefined) ok = false;
    else if (items.length === 0 || items.length > SPEC_LIMITS.maxSuites) {
      v.problem(v.deref(suitesEntry.value), 'suites', `expected ${expected}, got ${items.length}`, expected);
      ok = false;
    } else {
      const firstLine = new Map<string, number>();
      items.forEach((item, i) => {
        const suite = parseSuite(v, item, suitesEntry.value, i, runEnv);
        if (suite === undefined) {
          ok = false;
          return;
        }
        const seen = firstLine.get(suite.name);
        if (seen !== undefined) {
          v.problemAt(suite.location, `suites[${i}].name`, `duplicated suite name "${suite.name}" (first on line ${seen})`, 'a unique suite name');
          ok = false;
          return;
        }
        firstLine.set(suite.name, suite.location.line);
        suites.push(suite);
      });
    }
  }
  if (!ok || name === undefined || setup === undefined) return undefined;

  // Suites with files may shrink when shards are clamped to the file count,
  // so only the count they cannot go below is checked here.
  const atLeast = suites.reduce((n, s) => n + s.matrix.reduce((c, a) => c * a.values.length, 1) * (s.files.length > 0 ? 1 : s.shards), 0);
  if (atLeast > SPEC_LIMITS.maxTasks) {
    v.problemAt(suitesLocation, 'suites', `expected at most ${SPEC_LIMITS.maxTasks} tasks in total, got ${atLeast}`, `at most ${SPEC_LIMITS.maxTasks} tasks`, String(atLeast));
    return undefined;
  }
  return { name, setup, env: runEnv, suites, suitesLocation };
}

/**
 * Parses and validates the text of a testudo.yaml. Throws a
 * SpecValidationError listing every problem found (up to 50).
 */
export function parseSpecText(text: string, options: ParseSpecOptions): ParsedSpec {
  const file = options.file;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SPEC_LIMITS.maxFileBytes) {
    throw new SpecValidationError([
      new SpecError({
        file,
        expected: `a file of at most ${SPEC_LIMITS.maxFileBytes} bytes (1 MiB)`,
        got: `${bytes} bytes`,
      }),
    ]);
  }
  const control = controlCharacterProblem(text);
  if (control !== null) throw new SpecValidationError([new SpecError({ file, ...control })]);
  const { doc, lines, syntaxErrors, warnings } = readYamlText(text, { uniqueKeys: false });
  if (syntaxErrors.length > 0) {
    const errors = syntaxErrors.slice(0, MAX_SPEC_ERRORS).map((problem) => new SpecError({ file, ...problem }));
    throw new SpecValidationError(errors, syntaxErrors.length > MAX_SPEC_ERRORS);
  }
  const v = new Validator(file, lines, doc);
  for (const w of warnings) v.warnings.push(printable(`${file}:${w.line}:${w.column}: ${w.detail}`));
  const spec = v.problems.run(() => parseRoot(v, doc, options.env ?? process.env));
  if (v.problems.errors.length > 0 || spec === undefined) {
    if (v.problems.errors.length === 0) throw new Error('spec validation failed without an error');
    throw new SpecValidationError(v.problems.sorted(), v.problems.truncated);
  }
  return { file, sourceDir: resolve(options.sourceDir), spec, warnings: v.warnings };
}

/**
 * Reads and parses a spec file (or `<dir>/testudo.yaml` when given a
 * directory). `sourceDir` is the file's absolute directory. A missing or
 * unreadable file is a SpecError; an invalid one a SpecValidationError.
 */
export async function loadSpec(path: string, options: LoadSpecOptions = {}): Promise<ParsedSpec> {
  let file = path;
  let absolute = resolve(path);
  let info;
  try {
    info = await stat(absolute);
    if (info.isDirectory()) {
      file = join(path, DEFAULT_SPEC_FILE);
      absolute = resolve(file);
      info = await stat(absolute);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? `spec file not found (looked for ${absolute})`
        : `cannot read the spec file ${absolute}: ${(error as Error).message}`;
    throw new SpecError({ file, detail, expected: 'a readable testudo.yaml', cause: error });
  }
  if (!info.isFile()) {
    throw new SpecError({ file, detail: `${absolute} is not a regular file`, expected: 'a readable testudo.yaml' });
  }
  if (info.size > SPEC_LIMITS.maxFileBytes) {
    throw new SpecValidationError([
      new SpecError({
        file,
        expected: `a file of at most ${SPEC_LIMITS.maxFileBytes} bytes (1 MiB)`,
        got: `${info.size} bytes`,
      }),
    ]);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(absolute);
  } catch (error) {
    throw new SpecError({
      file,
      detail: `cannot read the spec file ${absolute}: ${(error as Error).message}`,
      expected: 'a readable testudo.yaml',
      cause: error,
    });
  }
  const binary = binaryProblem(bytes);
  if (binary !== null) throw new SpecValidationError([new SpecError({ file, ...binary })]);
  return parseSpecText(bytes.toString('utf8'), { file, sourceDir: dirname(absolute), env: options.env ?? process.env });
}
