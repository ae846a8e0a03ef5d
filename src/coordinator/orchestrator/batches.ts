/**
 * Queue mode in the orchestrator's state (the pure queue is file-queue.ts):
 * a run's file queues opened at submit, a batch's files carved at assign
 * by its worker's capability class, and a new batch task opened when one
 * ends while the queue still holds files.
 */
import { taskIdOf, type TaskState, type TaskTemplate } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import * as fq from './file-queue.js';
import { classOfSuite } from './history.js';
import { enqueue, type Machine } from './machine.js';
import { terminal, type RunRec, type TaskRec, type WorkerRec } from './records.js';
import { estimatorOf, expectedMs, newTask } from './runs.js';

/** Opens the submission's file queues in the run; returns the queue of each queue-mode position. */
export function openQueues(m: Machine, run: RunRec, templates: readonly TaskTemplate[]): Map<number, fq.FileQueueRec> {
  const byPosition = new Map<number, fq.FileQueueRec>();
  for (const [key, positions] of fq.queueGroups(templates)) {
    const group = positions.map((p) => templates[p]!);
    const estimate = estimatorOf(m, group[0]!.suite, classOfSuite(m.workers.values(), group[0]!.requirements));
    const queue = fq.openQueue(key, group, estimate);
    (run.queues ??= []).push(queue);
    for (const p of positions) byPosition.set(p, queue);
  }
  return byPosition;
}

/** The file queue of a queue-mode task; undefined for any other task. */
export function queueOf(m: Machine, task: TaskRec): fq.FileQueueRec | undefined {
  if (task.template.queue !== true) return undefined;
  const key = fq.queueKeyOf(task.template);
  const queue = m.runs.get(task.runId)?.queues?.find((q) => q.key === key);
  assert(queue !== undefined, `queue-mode task ${task.taskId} has no queue`);
  return queue;
}

/** How file-queue.ts sees the machine's tasks. */
function taskViewOf(m: Machine): (taskId: string) => fq.QueueTaskView {
  return (taskId) => {
    const t = m.tasks.get(taskId)!;
    return { taskId, files: t.files, open: !terminal(t.state) };
  };
}

/** A batch being assigned takes its files from the queue's head, sized by the worker's capability class. */
export function maybeCarve(m: Machine, task: TaskRec, worker: WorkerRec): void {
  const queue = queueOf(m, task);
  if (queue === undefined || task.files.length > 0) return;
  const others = fq.uncarvedOpen(queue, taskViewOf(m)) - 1;
  task.files = fq.carveBatch(queue, estimatorOf(m, task.template.suite, worker.capabilityKey), others);
  task.expectedMs = expectedMs(m, task);
}

/**
 * A batch ended: a new batch task takes its lane while the queue holds
 * files the uncarved batches will not take. An uncarved batch that ended
 * without running takes its share of the files, so each stays in one task;
 * a cancelled run leaves its queue as it is.
 */
export function afterBatchEnds(m: Machine, run: RunRec, task: TaskRec, state: TaskState, atMs: number): void {
  const queue = queueOf(m, task);
  if (queue === undefined || state === 'cancelled') return;
  if (task.files.length === 0) {
    task.files = fq.carveUnrun(queue, fq.uncarvedOpen(queue, taskViewOf(m)));
    return;
  }
  if (!fq.needsAnotherBatch(queue, taskViewOf(m))) return;
  const taskId = taskIdOf(run.runId, run.taskIds.length + 1);
  const next = newTask(m, run.runId, taskId, fq.nextBatchTemplate(queue, taskId), [], atMs);
  m.tasks.set(taskId, next);
  run.taskIds.push(taskId);
  run.counts.tasks++;
  run.counts.queued++;
  if (!next.template.exclusive) run.parallelOpen++;
  enqueue(m, next);
}
