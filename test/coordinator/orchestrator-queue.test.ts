import { describe, expect, it } from 'vitest';
import { createPrng } from '../../src/common/rand.js';
import { Driver, infra, registration, result, submission, template } from './orchestrator-fixtures.js';

/**
 * The scheduler's queue scan starts past the head of started and ended
 * entries (machine.ts queueHead) instead of walking them on every pass. It
 * must still yield every queued task, in the order a replica that rebuilt
 * its queue from scratch (a restored snapshot) yields them: checked over
 * seeded random histories in which passes stop part-way (the scheduler
 * takes only what it can place), tasks are requeued after infrastructure
 * failures, runs are cancelled, and the order is compacted.
 */

const ids = (d: Driver): string[] => [...d.o.queuedTasks()].map((t) => t.taskId);

describe('orchestrator queue scan', () => {
  it('yields what a rebuilt queue yields, in its order, after partial scans, requeues, cancels and compactions', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const random = createPrng(seed);
      const pick = (n: number): number => Math.floor(random() * n);
      const d = new Driver();
      for (const w of ['w1', 'w2', 'w3', 'w4']) d.register(registration(w, { slots: 4 + pick(8) }));
      let now = 0;
      let runs = 0;
      for (let step = 0; step < 80; step++) {
        now += 1 + pick(300);
        const roll = pick(12);
        if (roll < 2 || runs === 0) {
          runs++;
          // Some runs are large enough that stale entries pass the compaction bound (1,024).
          const size = pick(5) === 0 ? 1_100 : 1 + pick(40);
          d.submit(`r${runs}`, submission(Array.from({ length: size }, (_, i) => template({ suite: `s${pick(4)}`, shard: i + 1, shardCount: size, priority: pick(3) }))), now);
        } else if (roll < 6) {
          d.schedule(now);
        } else if (roll < 10) {
          const running = d.o.listWorkers().flatMap((w) => w.running.map((attemptId) => ({ attemptId, workerId: w.workerId })));
          const done = running.filter(() => random() < 0.7);
          if (done.length > 0) d.results(done.map((a) => (random() < 0.15 ? infra(a.attemptId, a.workerId) : result(a.attemptId, a.workerId))), now);
        } else if (roll < 11) {
          d.cancel(`r${1 + pick(runs)}`, now);
        } else {
          // A pass that stops part-way, as the scheduler's does once the fleet is full.
          const scan = d.o.queuedTasks();
          for (let k = pick(50); k > 0 && !scan.next().done; k--);
        }
        const rebuilt = new Driver();
        rebuilt.o.restore(d.o.snapshot());
        expect(ids(d), `seed ${seed} step ${step}`).toEqual(ids(rebuilt));
        expect(ids(d).length, `seed ${seed} step ${step}`).toBe(d.o.queuedCount);
      }
    }
  });
});
