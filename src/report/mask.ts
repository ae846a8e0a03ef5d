// A spec's `env` may hold secrets (tokens, passwords). Workers need the real
// values to run the commands; nothing else does. Every view of a run that
// leaves the coordinator (GetRun, the report archive) or becomes a report
// shows the names with this in place of each value.

import type { RunView, TaskView } from '../model/types.js';

/** What every env value reads as outside the worker (names are kept; lengths are not told). */
export const maskedEnvValue = '***';

/** The task with its template's env values masked; the task itself is not changed. */
export function maskTaskEnv(task: TaskView): TaskView {
  const names = Object.keys(task.template.env);
  if (names.length === 0) return task;
  const env = Object.fromEntries(names.map((name) => [name, maskedEnvValue]));
  return { ...task, template: { ...task.template, env } };
}

/** The run with every task's env values masked; the run itself is not changed. */
export function maskRunEnv(run: RunView): RunView {
  return { ...run, tasks: run.tasks.map(maskTaskEnv) };
}
