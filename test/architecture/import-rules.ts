import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

import ts from 'typescript';

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

const rules: readonly ImportRule[] = [
  { name: 'src/worker must not import src/coordinator', forbids: (from, to) => folderOf(from) === 'worker' && folderOf(to) === 'coordinator' },
  {
    name: 'src/raft imports only src/raft and src/common',
    forbids: (from, to) => folderOf(from) === 'raft' && folderOf(to) !== 'raft' && folderOf(to) !== 'common',
  },
  { name: 'only src/cli imports src/cli', forbids: (from, to) => folderOf(from) !== 'cli' && folderOf(to) === 'cli' },
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
