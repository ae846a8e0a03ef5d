// Writes the five reports of a run next to each other.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunView } from '../model/types.js';
import { renderCtrf } from './ctrf.js';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit-write.js';
import { renderMarkdown } from './markdown.js';
import { maskRunEnv } from './mask.js';
import { mergeRun, type ClassnamePolicy } from './merge.js';
import { buildSummary } from './summary.js';
import { workerDirectory, type LogScheme } from './workers.js';

export interface WriteReportsOptions {
  /** File name without extension (default `testudo-report`). */
  readonly basename?: string;
  /** The class each JUnit case is reported under (default `auto`; see {@link ClassnamePolicy}). */
  readonly classname?: ClassnamePolicy;
  /** `https` when the workers serve their logs over TLS (the HTML report's log links; default `http`). */
  readonly logScheme?: LogScheme;
}

export interface ReportPaths {
  readonly junit: string;
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
  readonly ctrf: string;
}

export const DEFAULT_REPORT_BASENAME = 'testudo-report';

/** Writes `path` through a temporary file in the same directory and a rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, 'utf8');
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes `<dir>/<basename>.xml` (merged JUnit), `.json` (summary), `.md`
 * (Markdown summary), `.html` and `.ctrf.json` (CTRF), creating `dir`.
 * Returns the paths.
 */
export async function writeReports(run: RunView, dir: string, options: WriteReportsOptions = {}): Promise<ReportPaths> {
  const basename = options.basename ?? DEFAULT_REPORT_BASENAME;
  if (basename === '' || /[/\\]/.test(basename)) throw new Error(`invalid report basename: ${JSON.stringify(basename)}`);
  // A report may be shared widely: no env value in it, whatever the view held.
  const visible = maskRunEnv(run);
  const merged = mergeRun(visible, { classname: options.classname ?? 'auto' });
  const summary = buildSummary(visible, merged);
  const paths: ReportPaths = {
    junit: join(dir, `${basename}.xml`),
    json: join(dir, `${basename}.json`),
    markdown: join(dir, `${basename}.md`),
    html: join(dir, `${basename}.html`),
    ctrf: join(dir, `${basename}.ctrf.json`),
  };
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFileAtomic(paths.junit, renderJUnit(merged)),
    writeFileAtomic(paths.json, `${JSON.stringify(summary, null, 2)}\n`),
    writeFileAtomic(paths.markdown, renderMarkdown(summary)),
    writeFileAtomic(paths.html, renderHtml(summary, merged, { run: visible, logScheme: options.logScheme ?? 'http' })),
    writeFileAtomic(paths.ctrf, renderCtrf(merged, { workerName: workerDirectory(visible).name })),
  ]);
  return paths;
}
