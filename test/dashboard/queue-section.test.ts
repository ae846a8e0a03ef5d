import { describe, expect, it } from 'vitest';
import { createPrng } from '../../src/common/rand.js';
import { dashboardQueueMax } from '../../src/dashboard/limits.js';
import { queueSection, type QueueRow } from '../../src/dashboard/sections.js';
import type { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { Driver, infra, registration, result, submission, template } from '../coordinator/orchestrator-fixtures.js';

/**
 * The dashboard's queue is built from the orchestrator's live tasks
 * (queries.ts liveTasks), not from every running run's full view. It must
 * list what the full views list, in the same order: checked against that
 * reference over seeded random histories (runs of several priorities,
 * assignments, results, infrastructure failures whose tasks wait while later
 * ones run, a cancel), at every step.
 */

/** The queue as the full run views give it: the reference. */
function queueFromViews(o: Orchestrator, limit: number): { tasks: QueueRow[]; omitted: number } {
  const rows: QueueRow[] = [];
  for (const summary of o.listRuns()) {
    if (summary.state !== 'running') continue;
    for (const task of o.getRun(summary.runId)?.tasks ?? []) {
      if (task.state !== 'queued' && task.state !== 'running') continue;
      const last = task.attempts[task.attempts.length - 1];
      const running = task.state === 'running' && last !== undefined;
      rows.push({
        taskId: task.taskId,
        runId: summary.runId,
        runName: summary.name,
        suite: task.template.suite,
        shard: task.template.shard,
        shardCount: task.template.shardCount,
        matrix: task.template.matrix,
        priority: task.template.priority,
        state: task.state,
        queuedAtMs: task.queuedAtMs,
        attempts: task.attempts.length,
        workerId: running ? last.workerId : '',
        startedAtMs: running ? last.assignedAtMs : 0,
      });
    }
  }
  rows.sort((a, b) => b.priority - a.priority || Number(b.state === 'running') - Number(a.state === 'running') || a.queuedAtMs - b.queuedAtMs || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  return { tasks: rows.slice(0, limit), omitted: Math.max(0, rows.length - limit) };
}

describe('dashboard queue section', () => {
  it('lists what the full run views list, in their order, over seeded random histories', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = createPrng(seed);
      const pick = (n: number): number => Math.floor(random() * n);
      const d = new Driver();
      for (const w of ['w1', 'w2', 'w3']) d.register(registration(w, { slots: 1 + pick(3) }));
      let now = 0;
      const runs: string[] = [];
      for (let step = 0; step < 40; step++) {
        now += 1 + pick(50);
        const roll = pick(10);
        if (roll < 3 || runs.length === 0) {
          const runId = `r${runs.length + 1}`;
          const tasks = Array.from({ length: 1 + pick(6) }, (_, i) => template({ suite: `s${pick(3)}`, shard: i + 1, shardCount: 6, priority: pick(3) }));
          d.submit(runId, submission(tasks, { name: `run ${runId}` }), now);
          runs.push(runId);
        } else if (roll < 6) {
          d.schedule(now);
        } else if (roll < 9) {
          const running = d.o.listWorkers().flatMap((w) => w.running.map((attemptId) => ({ attemptId, workerId: w.workerId })));
          const done = running.filter(() => random() < 0.5);
          // Some end in an infrastructure failure: the task waits out a backoff while later ones run.
          if (done.length > 0) d.results(done.map((a) => (random() < 0.3 ? infra(a.attemptId, a.workerId) : result(a.attemptId, a.workerId))), now);
        } else {
          d.cancel(runs[pick(runs.length)]!, now);
        }
        const expected = queueFromViews(d.o, dashboardQueueMax);
        expect(queueSection({ liveTasks: (limit) => d.o.liveTasks(limit) }), `seed ${seed} step ${step}`).toEqual(expected);
        // A small limit cuts the same list and counts the rest.
        const live = d.o.liveTasks(3);
        const cut = queueFromViews(d.o, 3);
        expect(live.tasks.map((t) => t.taskId)).toEqual(cut.tasks.map((t) => t.taskId));
        expect(live.total - live.tasks.length).toBe(cut.omitted);
      }
    }
  });
});
