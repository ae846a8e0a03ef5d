import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

import ts from 'typescript';

import { assert } from '../../src/common/assert.js';

/**
 * The directions imports may take between src/ folders (docs/architecture.md,
 * "Dependencies point down"). Only imports of other src/ files are checked;
 * Node built-ins and npm packages are not.
 */
interface ImportRule {
  readonly name: string;
  /** Whether the rule forbids an import from `from` to `to` (paths relative to src/, `/`-separated). */
  readonly forbids: (from: string, to: string) => boolean;
}

const folderOf = (path: string): string => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '');

/**
 * The layers of src/raft (docs/architecture.md, "src/raft"): each is a folder,
 * listed with the layers it may import. `leaf` is a file at src/raft's top level
 * other than index.ts (crc32c.ts), shared by several layers and importing none;
 * `entry` is src/raft/index.ts, the public entry, which re-exports every layer
 * and which no file of src/raft imports.
 */
const raftLayerImports: Readonly<Record<string, readonly string[]>> = {
  core: ['core', 'leaf'],
  storage: ['storage', 'core', 'leaf'],
  transport: ['transport', 'core', 'leaf'],
  node: ['node', 'core', 'storage', 'transport', 'leaf'],
  leaf: ['leaf'],
};

/** The src/raft layer of a path relative to src/, or undefined outside src/raft. */
function raftLayerOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'raft' || parts.length < 2) return undefined;
  if (parts.length > 2) return parts[1];
  return /^index\.[mc]?[jt]s$/.test(parts[1] ?? '') ? 'entry' : 'leaf';
}

/** Whether an import inside src/raft goes from layer `fromLayer` to one it may not import. */
function raftLayerForbids(fromLayer: string, from: string, to: string): boolean {
  const fromIs = raftLayerOf(from);
  const toIs = raftLayerOf(to);
  if (fromIs !== fromLayer || toIs === undefined) return false;
  const allowed = raftLayerImports[fromLayer];
  assert(allowed !== undefined, `no layer rule for src/raft/${fromLayer}`);
  return !allowed.includes(toIs);
}

/** src/raft's subfolders that are not one of its layers (each must be one). */
export function raftFoldersOutsideLayers(srcDir: string): string[] {
  const layers = Object.keys(raftLayerImports).filter((layer) => layer !== 'leaf');
  return readdirSync(join(srcDir, 'raft'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !layers.includes(entry.name))
    .map((entry) => entry.name)
    .sort();
}

const rules: readonly ImportRule[] = [
  { name: 'src/worker must not import src/coordinator', forbids: (from, to) => folderOf(from) === 'worker' && folderOf(to) === 'coordinator' },
  {
    name: 'src/raft imports only src/raft and src/common',
    forbids: (from, to) => folderOf(from) === 'raft' && folderOf(to) !== 'raft' && folderOf(to) !== 'common',
  },
  { name: 'only src/cli imports src/cli', forbids: (from, to) => folderOf(from) !== 'cli' && folderOf(to) === 'cli' },
  { name: 'src/raft/core imports no other src/raft layer', forbids: (from, to) => raftLayerForbids('core', from, to) },
  { name: 'src/raft/storage imports only src/raft/core and leaves', forbids: (from, to) => raftLayerForbids('storage', from, to) },
  { name: 'src/raft/transport imports only src/raft/core and leaves', forbids: (from, to) => raftLayerForbids('transport', from, to) },
  { name: 'src/raft/node imports core, storage, transport and leaves', forbids: (from, to) => raftLayerForbids('node', from, to) },
  { name: 'src/raft leaves (top-level files but index.ts) import no layer', forbids: (from, to) => raftLayerForbids('leaf', from, to) },
];

/** Most source files the walk reads: a bound, and a sign of a wrong root if hit. */
const sourceFilesMax = 5000;

export function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
    if (out.length > sourceFilesMax) throw new Error(`more than ${sourceFilesMax} files under ${dir}`);
  }
  return out;
}

/** Every import that breaks a rule, as `file -> target (rule)`, for the src/ tree at `srcDir`. */
export function importViolations(srcDir: string): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    const from = relative(srcDir, file).split(sep).join('/');
    // import/export … from, import(), require(): TypeScript's own scanner finds them all.
    const imported = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    for (const { fileName: specifier } of imported) {
      if (!specifier.startsWith('.')) continue;
      const to = posix.normalize(posix.join(posix.dirname(from), specifier));
      for (const rule of rules) if (rule.forbids(from, to)) out.push(`${from} -> ${to} (${rule.name})`);
    }
  }
  return out.sort();
}
