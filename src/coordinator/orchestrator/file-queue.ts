import { assert } from '../../common/assert.js';
import type { TaskTemplate } from '../../model/index.js';

/**
 * Queue mode (`shards: {count: N, by: queue}`, docs/orchestrator.md "Queue
 * mode"): a suite's files (per matrix cell) form a queue ordered longest
 * first by the timing history, and batch tasks pull from its head. A batch
 * IS an ordinary task: its files are carved when its assignment is applied,
 * so the pull is part of the committed assignment, and attempts, retries, the
 * recovery ladder, breakers and reports treat it like any other task. A lost
 * batch is retried with the files it carved; no file is ever in two batches.
 *
 * At most `lanes` (N) batch tasks of a queue are open (queued or running) at
 * once: the run starts with N uncarved ones, and each batch that ends with
 * files left in the queue is replaced by a new uncarved one. A batch takes
 * about the queue's remaining estimated work ÷ N (guided self-scheduling),
 * but at least batchMinMs of it and at least one file, so batches shrink
 * towards the end and the lanes finish together without paying a dispatch
 * for every small file of the tail.
 *
 * Pure: plain records in, plain records out; estimates come from the
 * caller's replicated history, never a clock or a random generator.
 */

/** A queue of one suite × matrix cell, kept in its run's record (and so in snapshots). */
export interface FileQueueRec {
  /** `suite \0 matrix` (queueKeyOf). */
  readonly key: string;
  /** Batch tasks open at once, at most (the spec's `count`). */
  readonly lanes: number;
  /** What every batch task copies (files empty: the batch's own are its task's). */
  readonly template: TaskTemplate;
  /** Files the queue started with. */
  readonly fileCount: number;
  /** Files not carved yet, longest expected first. */
  files: string[];
  /** The queue's batch tasks, in creation order (batch k is taskIds[k-1]). */
  taskIds: string[];
}

/** The part of a task the queue reads. */
export interface QueueTaskView {
  readonly taskId: string;
  readonly files: readonly string[];
  readonly open: boolean;
}

/**
 * A batch's share of the remaining estimated work is 1 ÷ (batchLaneDivisor ·
 * lanes). 1 (guided self-scheduling) beat 2 (factoring) in `bench makespan
 * --files` once each batch pays its real cost (docs/orchestrator.md, "Queue
 * mode"); 2 wins only when a batch costs nothing.
 */
export const batchLaneDivisor = 1;
/**
 * Estimated work a batch takes at least (unless the queue holds less): every
 * batch pays a dispatch round trip and a process start, 0.05–0.2 s measured
 * on a loaded machine, so the tail is not cut into single small files.
 */
export const batchMinMs = 500;

function batchTargetMs(queue: FileQueueRec, estimateMs: (file: string) => number): number {
  return Math.max(batchMinMs, remainingMs(queue, estimateMs) / (batchLaneDivisor * queue.lanes));
}

export function queueKeyOf(template: Pick<TaskTemplate, 'suite' | 'matrix'>): string {
  return `${template.suite}\u0000${JSON.stringify(template.matrix)}`;
}

/** Positions of the queue-mode templates of a submission, grouped by queue key (first appearance order). */
export function queueGroups(templates: readonly TaskTemplate[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  templates.forEach((template, position) => {
    if (template.queue !== true) return;
    const key = queueKeyOf(template);
    let positions = groups.get(key);
    if (positions === undefined) groups.set(key, (positions = []));
    positions.push(position);
  });
  return groups;
}

/**
 * Why a submission's queue-mode templates cannot form queues, or null. Each
 * queue needs files, one list shared by its templates, no more templates
 * (lanes) than files, and no timing split on top.
 */
export function queueSubmissionProblem(templates: readonly TaskTemplate[]): string | null {
  for (const [key, positions] of queueGroups(templates)) {
    const first = templates[positions[0]!]!;
    const name = key.replace('\u0000', ' ');
    if (first.files.length === 0) return `queue ${name} has no files`;
    if (positions.length > first.files.length) return `queue ${name} has ${positions.length} lanes for ${first.files.length} files`;
    if (new Set(first.files).size !== first.files.length) return `queue ${name} lists a file twice`;
    for (const position of positions) {
      const t = templates[position]!;
      if (t.splitByTimings) return `queue ${name} cannot also be split by timings`;
      if (t.files.length !== first.files.length || t.files.some((f, i) => f !== first.files[i])) return `queue ${name}'s templates disagree on the files`;
    }
  }
  return null;
}

/** Tasks a submission may create over its life: a queue may end with one batch per file. */
export function plannedTaskCount(templates: readonly TaskTemplate[]): number {
  let n = templates.length;
  for (const positions of queueGroups(templates).values()) n += templates[positions[0]!]!.files.length - positions.length;
  return n;
}

/** A new queue from its templates: files ordered longest first by `estimateMs` (ties by name). */
export function openQueue(key: string, templates: readonly TaskTemplate[], estimateMs: (file: string) => number): FileQueueRec {
  const first = templates[0];
  assert(first !== undefined && first.queue === true, `queue ${key} opened without queue templates`);
  const ordered = first.files
    .map((file) => ({ file, ms: estimateMs(file) }))
    .sort((a, b) => b.ms - a.ms || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((e) => e.file);
  const template: TaskTemplate = { ...first, files: [], shard: 1, shardCount: first.files.length };
  return { key, lanes: templates.length, template, fileCount: ordered.length, files: ordered, taskIds: [] };
}

/**
 * The template of the queue's next batch task, recorded under `taskId`.
 * `shard` is the batch number and `shardCount` the queue's file count (no
 * queue has more batches than files).
 */
export function nextBatchTemplate(queue: FileQueueRec, taskId: string): TaskTemplate {
  queue.taskIds.push(taskId);
  assert(queue.taskIds.length <= queue.fileCount, `queue ${queue.key} has more batches than files`);
  return { ...queue.template, shard: queue.taskIds.length };
}

/** Estimated work left in the queue, ms. */
export function remainingMs(queue: FileQueueRec, estimateMs: (file: string) => number): number {
  let total = 0;
  for (const file of queue.files) total += estimateMs(file);
  return total;
}

/** What an uncarved batch is expected to take: its share of the remaining work. */
export function uncarvedExpectedMs(queue: FileQueueRec, estimateMs: (file: string) => number): number {
  return Math.round(Math.min(remainingMs(queue, estimateMs), batchTargetMs(queue, estimateMs)));
}

/**
 * Carves a batch from the head of the queue: files in order while their
 * estimated sum stays within max(batchMinMs, remaining ÷ lanes), at least one, and never
 * so many that fewer files than `uncarvedOthers` (the queue's other open
 * batches still without files) are left.
 */
export function carveBatch(queue: FileQueueRec, estimateMs: (file: string) => number, uncarvedOthers: number): string[] {
  const room = queue.files.length - uncarvedOthers;
  assert(room >= 1, `queue ${queue.key}: ${queue.files.length} files left for ${uncarvedOthers + 1} uncarved batches`);
  const targetMs = batchTargetMs(queue, estimateMs);
  let takenMs = 0;
  let count = 0;
  while (count < room) {
    const ms = estimateMs(queue.files[count]!);
    if (count > 0 && takenMs + ms > targetMs) break;
    takenMs += ms;
    count++;
  }
  return queue.files.splice(0, count);
}

/**
 * The files an uncarved batch takes when it ends without running (no worker
 * could run it): all but one per other uncarved batch, so every file still
 * ends in exactly one task and the report names the files that did not run.
 */
export function carveUnrun(queue: FileQueueRec, uncarvedOthers: number): string[] {
  return queue.files.splice(0, Math.max(0, queue.files.length - uncarvedOthers));
}

/** The queue's open batch tasks that have no files yet. */
export function uncarvedOpen(queue: FileQueueRec, task: (taskId: string) => QueueTaskView): number {
  let n = 0;
  for (const id of queue.taskIds) {
    const t = task(id);
    if (t.open && t.files.length === 0) n++;
  }
  return n;
}

/** Whether a batch that ended leaves work for a new batch task (files beyond those the uncarved batches will take). */
export function needsAnotherBatch(queue: FileQueueRec, task: (taskId: string) => QueueTaskView): boolean {
  return queue.files.length > uncarvedOpen(queue, task);
}

/**
 * Asserts a queue's invariants: every file is in exactly one place (the
 * queue or one batch's files); at most `lanes` batches are open; the
 * uncarved ones can each still get a file; a run that ended with a verdict
 * left no file in the queue.
 */
export function checkQueue(queue: FileQueueRec, task: (taskId: string) => QueueTaskView | undefined, runEnded: boolean, runCancelled: boolean): void {
  const seen = new Set<string>(queue.files);
  let count = queue.files.length;
  let open = 0;
  let uncarved = 0;
  for (const id of queue.taskIds) {
    const t = task(id);
    assert(t !== undefined, `queue ${queue.key} lists missing task ${id}`);
    if (t.open) open++;
    if (t.open && t.files.length === 0) uncarved++;
    for (const file of t.files) seen.add(file);
    count += t.files.length;
  }
  assert(count === seen.size && count <= queue.fileCount, `queue ${queue.key}: a file is in two places`);
  assert(open <= queue.lanes, `queue ${queue.key} has ${open} open batches for ${queue.lanes} lanes`);
  assert(uncarved <= queue.files.length, `queue ${queue.key}: ${uncarved} uncarved batches for ${queue.files.length} files`);
  assert(count === queue.fileCount, `queue ${queue.key} lost files: ${count} of ${queue.fileCount}`);
  if (runEnded && !runCancelled) assert(queue.files.length === 0, `queue ${queue.key} ended with ${queue.files.length} files never run`);
}
