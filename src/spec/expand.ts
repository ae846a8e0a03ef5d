// Expands a parsed spec into the task templates of a run: globs are resolved
// against the source directory, then suite × matrix cell × shard.

import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import fg from 'fast-glob';
import { printable } from '../common/printable.js';
import type { Requirements, RunSubmission, TaskTemplate } from '../model/types.js';
import { MAX_SPEC_ERRORS, SpecError, SpecValidationError } from './errors.js';
import { MATRIX_LABEL_KEYS, SPEC_LIMITS, type MatrixAxis, type ParsedSpec, type SuiteSpec } from './parse.js';

/** Directories a `files` glob never descends into. */
export const ALWAYS_IGNORED = ['**/node_modules/**', '**/.git/**'] as const;

export interface ExpandOptions {
  /** Called with each expansion warning (clamped shards...). */
  readonly onWarning?: (message: string) => void;
}

export interface ExpandedSpec {
  readonly submission: RunSubmission;
  /** The parse warnings followed by the expansion ones. */
  readonly warnings: readonly string[];
}

/**
 * Deals sorted files round-robin into `shards` lists, so shard sizes differ
 * by at most one (file i goes to shard i mod N). Some lists are empty when
 * there are fewer files than shards.
 */
export function splitIntoShards(files: readonly string[], shards: number): string[][] {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  const out: string[][] = Array.from({ length: shards }, () => []);
  files.forEach((file, i) => out[i % shards]?.push(file));
  return out;
}

/** The cartesian product of the axes: first axis outermost, declaration order. */
export function matrixCells(axes: readonly MatrixAxis[]): Record<string, string>[] {
  let cells: Record<string, string>[] = [{}];
  for (const axis of axes) {
    const next: Record<string, string>[] = [];
    for (const cell of cells) for (const value of axis.values) next.push({ ...cell, [axis.name]: value });
    cells = next;
  }
  return cells;
}

/** The requirements of one matrix cell: matrix label keys pin the label unless set explicitly. */
export function cellRequirements(requirements: Requirements, cell: Readonly<Record<string, string>>): Requirements {
  const labels: Record<string, string> = { ...requirements.labels };
  for (const [name, value] of Object.entries(cell)) {
    if (MATRIX_LABEL_KEYS.includes(name) && !Object.hasOwn(requirements.labels, name)) labels[name] = value;
  }
  return { labels, cpus: requirements.cpus, memoryMb: requirements.memoryMb, tools: [...requirements.tools] };
}

export interface ResolvedFiles {
  /** Sorted, unique, relative to the base directory, posix separators. */
  readonly files: string[];
  /** The positive globs that matched nothing. */
  readonly unmatched: string[];
}

/**
 * Resolves globs (`!pattern` excludes) against `baseDir`. Each positive glob
 * is checked on its own so one that matches nothing can be named.
 */
export async function resolveFiles(globs: readonly string[], baseDir: string): Promise<ResolvedFiles> {
  const negatives = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const ignore = [...ALWAYS_IGNORED, ...negatives];
  const all = new Set<string>();
  const unmatched: string[] = [];
  for (const glob of globs) {
    if (glob.startsWith('!')) continue;
    const found = await fg(glob, { cwd: baseDir, onlyFiles: true, dot: false, unique: true, ignore, followSymbolicLinks: true });
    if (found.length === 0) unmatched.push(glob);
    for (const file of found) all.add(file.replace(/^\.\//, ''));
  }
  const files = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { files, unmatched };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

interface SuitePlan {
  readonly suite: SuiteSpec;
  readonly files: readonly string[];
  readonly shards: number;
  readonly cells: Record<string, string>[];
}

/** Expands a parsed spec; also returns its warnings. Throws SpecValidationError. */
export async function expandSpecDetailed(parsed: ParsedSpec): Promise<ExpandedSpec> {
  const { spec, file, sourceDir } = parsed;
  const errors: SpecError[] = [];
  const warnings: string[] = [...parsed.warnings];
  const plans: SuitePlan[] = [];

  for (const [index, suite] of spec.suites.entries()) {
    const field = `suites[${index}]`;
    let files: string[] = [];
    let shards = suite.shards;
    if (suite.files.length > 0) {
      const baseDir = isAbsolute(suite.cwd) ? suite.cwd : resolve(sourceDir, suite.cwd);
      if (!(await isDirectory(baseDir))) {
        errors.push(
          new SpecError({
            file,
            ...suite.location,
            field: `${field}.cwd`,
            detail: `directory ${baseDir} does not exist (cwd "${suite.cwd}" resolved against ${sourceDir})`,
            expected: 'an existing directory',
          }),
        );
        continue;
      }
      const resolved = await resolveFiles(suite.files, baseDir);
      for (const glob of resolved.unmatched) {
        const i = suite.files.indexOf(glob);
        errors.push(
          new SpecError({
            file,
            ...(suite.fileLocations[i] ?? suite.filesLocation),
            field: suite.files.length === 1 ? `${field}.files` : `${field}.files[${i}]`,
            detail: `glob "${glob}" matches no files in ${baseDir}`,
            expected: 'a glob matching at least one file',
          }),
        );
      }
      if (resolved.unmatched.length > 0) continue;
      files = resolved.files;
      if (shards > files.length) {
        warnings.push(
          `${file}:${suite.shardsLocation.line}:${suite.shardsLocation.column}: ${field}.shards: ${shards} shards but only ${files.length} file${files.length === 1 ? '' : 's'} match; using ${files.length} shard${files.length === 1 ? '' : 's'}`,
        );
        shards = files.length;
      }
      const spaced = files.filter((f) => /\s/.test(f));
      if (spaced.length > 0) {
        warnings.push(
          // A file name may hold any byte but '/' and NUL: escaped, as it goes to a terminal.
          printable(`${file}:${suite.filesLocation.line}:${suite.filesLocation.column}: ${field}.files: ${spaced.length} matched path(s) contain whitespace (e.g. "${spaced[0] ?? ''}"), which $TESTUDO_FILES cannot separate`),
        );
      }
    }
    plans.push({ suite, files, shards, cells: matrixCells(suite.matrix) });
  }
  if (errors.length > 0) {
    throw new SpecValidationError(errors.slice(0, MAX_SPEC_ERRORS), errors.length > MAX_SPEC_ERRORS);
  }

  const total = plans.reduce((n, p) => n + p.cells.length * p.shards, 0);
  if (total > SPEC_LIMITS.maxTasks) {
    throw new SpecValidationError([
      new SpecError({
        file,
        ...spec.suitesLocation,
        field: 'suites',
        expected: `at most ${SPEC_LIMITS.maxTasks} tasks in total`,
        got: `${total} tasks`,
      }),
    ]);
  }

  const tasks: TaskTemplate[] = [];
  for (const { suite, files, shards, cells } of plans) {
    const byTimings = suite.shardBy === 'timings' && files.length > 0;
    const byQueue = suite.shardBy === 'queue' && files.length > 0;
    const split = byTimings || byQueue || files.length === 0 ? undefined : splitIntoShards(files, shards);
    const env = { ...spec.env, ...suite.env };
    for (const cell of cells) {
      const requirements = cellRequirements(suite.requirements, cell);
      for (let shard = 1; shard <= shards; shard++) {
        tasks.push({
          suite: suite.name,
          command: suite.command,
          cwd: suite.cwd,
          shard,
          shardCount: shards,
          files: split === undefined ? files : (split[shard - 1] ?? []),
          splitByTimings: byTimings,
          ...(byQueue ? { queue: true } : {}),
          matrix: { ...cell },
          env: { ...env },
          requirements,
          priority: suite.priority,
          timeoutSec: suite.timeoutSec,
          retries: suite.retries,
          exclusive: suite.exclusive,
        });
      }
    }
  }

  return {
    submission: {
      name: spec.name,
      setup: [...spec.setup.commands],
      setupCacheKey: spec.setup.cacheKey,
      sourceDir,
      tasks,
    },
    warnings,
  };
}

/**
 * Expands a parsed spec into a run submission: globs resolved with
 * fast-glob (sorted, relative to `<sourceDir>/<cwd>`, posix separators) and
 * tasks in suite order, then matrix cell, then shard 1..N. Warnings (such as
 * shards clamped to the file count) go to `options.onWarning`.
 */
export async function expandSpec(parsed: ParsedSpec, options: ExpandOptions = {}): Promise<RunSubmission> {
  const expanded = await expandSpecDetailed(parsed);
  if (options.onWarning !== undefined) {
    for (const w of expanded.warnings.slice(parsed.warnings.length)) options.onWarning(w);
  }
  return expanded.submission;
}
