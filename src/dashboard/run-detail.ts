import type { RunView } from '../model/index.js';
import { renderHtml } from '../report/html.js';
import { renderMarkdown } from '../report/markdown.js';
import { maskRunEnv } from '../report/mask.js';
import { mergeRun } from '../report/merge.js';
import { buildSummary } from '../report/summary.js';
import { dashboardRunDetailTasksMax } from './limits.js';

/** One attempt on the run's timeline. */
export interface AttemptRow {
  readonly attemptId: string;
  readonly number: number;
  readonly workerId: string;
  readonly state: string;
  readonly assignedAtMs: number;
  /** Worker clock; 0 while running or when the attempt ended without a report. */
  readonly finishedAtMs: number;
  readonly reason: string;
  readonly infraClass: string;
  /** The full log on the worker (its HTTP /logs/<attempt>), or '' when the worker serves none. */
  readonly logUrl: string;
}

export interface RunDetail {
  readonly runId: string;
  readonly name: string;
  readonly state: string;
  readonly submittedAtMs: number;
  readonly finishedAtMs: number;
  readonly counts: RunView['counts'];
  readonly tasks: readonly {
    readonly taskId: string;
    readonly suite: string;
    readonly shard: number;
    readonly shardCount: number;
    readonly priority: number;
    readonly state: string;
    readonly reason: string;
    readonly attempts: readonly AttemptRow[];
    readonly decisions: RunView['tasks'][number]['decisions'];
  }[];
  readonly tasksOmitted: number;
  readonly failing: readonly { readonly suite: string; readonly id: string; readonly status: string; readonly message: string }[];
  readonly flaky: readonly { readonly suite: string; readonly id: string; readonly rate: number | null }[];
}

/**
 * A run as the dashboard shows it: tasks with their attempts (the timeline),
 * failing and flaky tests. Env values are masked as in every report.
 */
export function runDetail(run: RunView, workerHttp: (workerId: string) => string): RunDetail {
  const visible = maskRunEnv(run);
  const merged = mergeRun(visible);
  const tests = merged.suites.flatMap((s) => s.tests);
  const tasks = visible.tasks.slice(0, dashboardRunDetailTasksMax).map((task) => ({
    taskId: task.taskId,
    suite: task.template.suite,
    shard: task.template.shard,
    shardCount: task.template.shardCount,
    priority: task.template.priority,
    state: task.state,
    reason: task.reason,
    decisions: task.decisions,
    attempts: task.attempts.map((a): AttemptRow => {
      const http = workerHttp(a.workerId);
      return {
        attemptId: a.attemptId,
        number: a.number,
        workerId: a.workerId,
        state: a.state,
        assignedAtMs: a.assignedAtMs,
        finishedAtMs: a.result?.finishedAtMs ?? 0,
        reason: a.reason !== '' ? a.reason : (a.result?.reason ?? ''),
        infraClass: a.result?.infraClass ?? '',
        logUrl: http === '' ? '' : `http://${http}/logs/${encodeURIComponent(a.attemptId)}`,
      };
    }),
  }));
  return {
    runId: run.runId,
    name: run.name,
    state: run.state,
    submittedAtMs: run.submittedAtMs,
    finishedAtMs: run.finishedAtMs,
    counts: run.counts,
    tasks,
    tasksOmitted: visible.tasks.length - tasks.length,
    failing: tests
      .filter((t) => t.status === 'failed' || t.status === 'error')
      .slice(0, 500)
      .map((t) => ({ suite: t.suite, id: t.id, status: t.status, message: (t.runs[t.runs.length - 1]?.message ?? '').slice(0, 500) })),
    flaky: tests
      .filter((t) => t.flaky)
      .slice(0, 500)
      .map((t) => ({ suite: t.suite, id: t.id, rate: Object.entries(run.flakiness).find(([key]) => key.endsWith(`/${t.id}`))?.[1] ?? null })),
  };
}

/** The run's report in one of the formats `testudo run` writes (env masked). */
export function runReport(run: RunView, format: 'html' | 'json' | 'md'): string {
  const visible = maskRunEnv(run);
  const merged = mergeRun(visible);
  const summary = buildSummary(visible, merged);
  if (format === 'html') return renderHtml(summary, merged, { run: visible });
  if (format === 'md') return renderMarkdown(summary);
  return `${JSON.stringify(summary, null, 2)}\n`;
}
