// GitHub Actions: failed tests as `::error file=…,line=…::` workflow
// commands (the job page shows them on the diff), and the Markdown summary
// appended to $GITHUB_STEP_SUMMARY. Pure formatting, except appendStepSummary.

import { appendFile } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MergedReport, MergedTest } from '../report/merge.js';
import { renderMarkdown } from '../report/markdown.js';
import type { RunReportJson } from '../report/summary.js';
import { UsageError } from './errors.js';

/** Annotations printed for one run (GitHub shows at most 10 errors per step anyway). */
export const annotationsMax = 50;
/** Characters of a failure message kept in an annotation. */
export const annotationMessageCharsMax = 2_000;

/** True when running as a GitHub Actions step. */
export function inGitHubActions(env: NodeJS.ProcessEnv): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

export interface SourceLocation {
  readonly file: string;
  /** 1-based; 0 when not known. */
  readonly line: number;
}

/**
 * Where a failure happened, as the JUnit report tells it: the case's `file`
 * attribute, and the line of the first stack frame in the failure body that
 * points into that file (or, without a file attribute, into a file outside
 * node's internals and node_modules). Paths inside `cwd` come out relative.
 */
export function failureLocation(test: Pick<MergedTest, 'file' | 'runs'>, cwd: string): SourceLocation | null {
  const details = test.runs.at(-1)?.details ?? '';
  const frames = [...details.matchAll(/(?:\(|\s)((?:file:\/\/)?[^\s()]+?):(\d+):\d+\)?/g)]
    .map((m) => ({ file: toPath(m[1]!), line: Number(m[2]) }))
    .filter((f) => f.file !== '' && !f.file.startsWith('node:') && !f.file.includes(`${sep}node_modules${sep}`));
  if (test.file !== '') {
    const own = toPath(test.file);
    const frame = frames.find((f) => f.file === own || f.file.endsWith(`${sep}${own}`) || own.endsWith(`${sep}${f.file}`));
    return { file: relativeTo(cwd, own), line: frame?.line ?? 0 };
  }
  const first = frames[0];
  return first === undefined ? null : { file: relativeTo(cwd, first.file), line: first.line };
}

function toPath(text: string): string {
  if (!text.startsWith('file://')) return text;
  try {
    return fileURLToPath(text);
  } catch {
    return '';
  }
}

function relativeTo(cwd: string, file: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel.split(sep).join('/');
}

/** Escapes a workflow command's message (GitHub's toolkit rules). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a workflow command's property value (also `:` and `,`). */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One `::error …::message` line per failed test (not flaky ones), at most {@link annotationsMax}, then a count. */
export function failureAnnotations(merged: MergedReport, cwd: string): string[] {
  const failed = merged.suites.flatMap((s) => s.tests).filter((t) => (t.status === 'failed' || t.status === 'error') && !t.flaky);
  const lines = failed.slice(0, annotationsMax).map((t) => {
    const where = failureLocation(t, cwd);
    const props = [
      ...(where === null ? [] : [`file=${escapeProperty(where.file)}`, ...(where.line > 0 ? [`line=${where.line}`] : [])]),
      `title=${escapeProperty(`${t.suite}: ${t.name}`)}`,
    ];
    const message = (t.runs.at(-1)?.message ?? '') || `${t.status} in ${t.suite}`;
    return `::error ${props.join(',')}::${escapeData(message.slice(0, annotationMessageCharsMax))}`;
  });
  if (failed.length > annotationsMax) lines.push(`::warning title=Testudo::${failed.length - annotationsMax} more failed tests are in the reports`);
  return lines;
}

/** Appends the run's Markdown summary to the file $GITHUB_STEP_SUMMARY names; returns that file. */
export async function appendStepSummary(summary: RunReportJson, env: NodeJS.ProcessEnv): Promise<string> {
  const file = env.GITHUB_STEP_SUMMARY;
  if (file === undefined || file === '') throw new UsageError('--step-summary needs GITHUB_STEP_SUMMARY (set by GitHub Actions) to name a file');
  await appendFile(file, `${renderMarkdown(summary)}\n`);
  return file;
}
