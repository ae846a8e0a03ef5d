// The Markdown summary, fit for $GITHUB_STEP_SUMMARY.
import type { RunState } from '../model/types.js';
import type { RunReportJson } from './summary.js';

/** The default size bound (bytes of UTF-8). */
export const MARKDOWN_MAX_BYTES = 64 * 1024;
/** Rows of the failed and flaky tables. */
export const MARKDOWN_MAX_ROWS = 50;
const MAX_MESSAGE_CHARS = 200;
const MAX_ID_CHARS = 300;

export interface MarkdownOptions {
  /** Size bound in UTF-8 bytes, the truncation note included (default 64 KiB). */
  readonly maxBytes?: number;
}

/** PASSED, FAILED, CANCELLED (RUNNING for an unfinished run). */
export function statusWord(state: RunState): string {
  return state.toUpperCase();
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Makes user text safe in a table cell: one line, bounded, with Markdown and
 * HTML metacharacters escaped (GitHub renders inline HTML) and pipes escaped.
 */
export function escapeMarkdownCell(text: string, max = MAX_MESSAGE_CHARS): string {
  const oneLine = text.replace(/\r\n|\r|\n|\t/g, ' ').replace(/\s+/g, ' ').trim();
  return truncate(oneLine, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~#]/g, (c) => `\\${c}`);
}

function row(cells: ReadonlyArray<string | number>): string {
  return `| ${cells.map(String).join(' | ')} |`;
}

function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>, align?: readonly string[]): string[] {
  return [row(header), row(align ?? header.map(() => '---')), ...rows.map(row)];
}

function sec(n: number | null): string {
  if (n === null) return '–';
  if (n >= 3600) return `${Math.floor(n / 3600)}h ${Math.floor((n % 3600) / 60)}m ${Math.round(n % 60)}s`;
  if (n >= 60) return `${Math.floor(n / 60)}m ${Math.round(n % 60)}s`;
  return `${n.toFixed(n < 10 ? 2 : 1)}s`;
}

function pct(rate: number | null): string {
  return rate === null ? 'n/a' : `${(rate * 100).toFixed(1)}%`;
}

function more(total: number, shown: number, what: string): string[] {
  return total > shown ? ['', `…and ${total - shown} more ${what} (see the JSON or HTML report).`] : [];
}

/** Renders the summary as GitHub-flavoured Markdown, bounded to `maxBytes`. */
export function renderMarkdown(summary: RunReportJson, options: MarkdownOptions = {}): string {
  const t = summary.totals;
  const lines: string[] = [];
  lines.push(`## Testudo run ${escapeMarkdownCell(summary.name, MAX_ID_CHARS)}: ${statusWord(summary.state)}`, '');
  const when = `Run \`${summary.runId.replace(/`/g, '')}\` submitted ${summary.submittedAt}`;
  lines.push(summary.durationSec === null ? `${when}, not finished.` : `${when}, took ${sec(summary.durationSec)}.`, '');

  lines.push('### Totals', '');
  lines.push(
    ...table(
      ['Tests', 'Passed', 'Failed', 'Errors', 'Skipped', 'Flaky'],
      [[t.tests, t.passed, t.failed, t.errors, t.skipped, t.flaky]],
      ['---:', '---:', '---:', '---:', '---:', '---:'],
    ),
    '',
  );
  lines.push(
    ...table(
      ['Tasks', 'Passed', 'Failed', 'Infra failures', 'Cancelled', 'Attempts', 'Retries'],
      [[t.tasks, t.tasksPassed, t.tasksFailed, t.tasksFailedInfra, t.tasksCancelled, t.attempts, t.retries]],
      ['---:', '---:', '---:', '---:', '---:', '---:', '---:'],
    ),
    '',
  );

  if (summary.failedTests.length > 0) {
    const shown = summary.failedTests.slice(0, MARKDOWN_MAX_ROWS);
    lines.push(`### Failed tests (${summary.failedTests.length})`, '');
    lines.push(
      ...table(
        ['Test', 'Suite', 'Status', 'Attempts', 'Message'],
        shown.map((f) => [
          escapeMarkdownCell(f.id, MAX_ID_CHARS),
          escapeMarkdownCell(f.suite, MAX_ID_CHARS),
          f.synthetic ? `${f.status} (task)` : f.status,
          f.attempts,
          escapeMarkdownCell(f.message),
        ]),
      ),
      ...more(summary.failedTests.length, shown.length, 'failed tests'),
      '',
    );
  }

  if (summary.flakyTests.length > 0) {
    const shown = summary.flakyTests.slice(0, MARKDOWN_MAX_ROWS);
    lines.push(`### Flaky tests (${summary.flakyTests.length})`, '');
    lines.push('Passed after failing in an earlier attempt; counted as passed.', '');
    lines.push(
      ...table(
        ['Test', 'Suite', 'Attempts', 'Flakiness rate'],
        shown.map((f) => [escapeMarkdownCell(f.id, MAX_ID_CHARS), escapeMarkdownCell(f.suite, MAX_ID_CHARS), f.attempts, pct(f.flakinessRate)]),
      ),
      ...more(summary.flakyTests.length, shown.length, 'flaky tests'),
      '',
    );
  }

  if (summary.infraFailures.length > 0) {
    const shown = summary.infraFailures.slice(0, MARKDOWN_MAX_ROWS);
    lines.push(`### Infrastructure failures (${summary.infraFailures.length})`, '');
    lines.push(
      ...table(
        ['Task', 'Suite', 'Reason', 'Attempts'],
        shown.map((f) => [
          escapeMarkdownCell(f.taskId, MAX_ID_CHARS),
          escapeMarkdownCell(f.suite, MAX_ID_CHARS),
          escapeMarkdownCell(f.reason),
          escapeMarkdownCell(
            f.attempts.map((a) => `#${a.number} ${a.workerId || '?'}: ${a.infraClass || a.state}${a.reason ? ` (${a.reason})` : ''}`).join('; '),
            400,
          ),
        ]),
      ),
      ...more(summary.infraFailures.length, shown.length, 'infrastructure failures'),
      '',
    );
  }

  if (summary.perSuite.length > 0) {
    lines.push('### Suites', '');
    lines.push(
      ...table(
        ['Suite', 'Tests', 'Passed', 'Failed', 'Errors', 'Flaky', 'Skipped', 'Tasks', 'Time'],
        summary.perSuite.map((s) => [escapeMarkdownCell(s.suite, MAX_ID_CHARS), s.tests, s.passed, s.failed, s.errors, s.flaky, s.skipped, s.tasks, sec(s.durationSec)]),
        ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      ),
      '',
    );
  }

  if (summary.slowestTests.length > 0) {
    lines.push('### Slowest tests', '');
    lines.push(
      ...table(
        ['Test', 'Suite', 'Time'],
        summary.slowestTests.slice(0, 10).map((s) => [escapeMarkdownCell(s.id, MAX_ID_CHARS), escapeMarkdownCell(s.suite, MAX_ID_CHARS), sec(s.timeSec)]),
        ['---', '---', '---:'],
      ),
      '',
    );
  }

  return boundLines(lines, options.maxBytes ?? MARKDOWN_MAX_BYTES);
}

const encoder = new TextEncoder();

/** Joins lines, cutting at a line boundary with a note when over `maxBytes`. */
function boundLines(lines: readonly string[], maxBytes: number): string {
  const full = lines.join('\n');
  if (encoder.encode(full).length <= maxBytes) return full;
  const note = '\n\n> **Note:** this summary was truncated to fit the size limit; see the JSON or HTML report for everything.\n';
  const budget = maxBytes - encoder.encode(note).length;
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    const size = encoder.encode(line).length + 1;
    if (used + size > budget) break;
    kept.push(line);
    used += size;
  }
  return `${kept.join('\n')}${note}`;
}
