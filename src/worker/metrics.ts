import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

import { registerBuildInfo } from '../common/build-info.js';
import type { WorkerStats } from './agent.js';
import { attemptPhaseNames } from './attempt-phases.js';

/** What the worker's metrics read: the agent's stats, or null before the agent is up. */
export type WorkerStatsSource = () => { stats(): WorkerStats } | null;

/**
 * The worker's /metrics (docs/metrics.md) in a registry of its own: its
 * gauges and counters, read from the agent at scrape time (zero before the
 * agent is up), `testudo_build_info`, and Node's process metrics under their
 * standard names (`process_cpu_seconds_total`, `nodejs_*`), as on the
 * coordinators.
 */
export function workerMetricsRegistry(agent: WorkerStatsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const registers = [registry];
  const read = (pick: (s: WorkerStats) => number): number => {
    const a = agent();
    return a === null ? 0 : pick(a.stats());
  };
  const gauge = (name: string, help: string, pick: (s: WorkerStats) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(pick));
      },
    });
  };
  // The agent keeps the running totals (they only grow while the process
  // lives): the counter shows the agent's number as it is at each scrape.
  const counter = (name: string, help: string, pick: (s: WorkerStats) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(pick));
      },
    });
  };
  gauge('testudo_worker_connected', 'Whether the worker has a session with the leader: 1 if it has, 0 otherwise.', (s) => (s.connected ? 1 : 0));
  gauge('testudo_worker_attempts_running', 'The number of attempts running now.', (s) => s.running);
  gauge('testudo_worker_outbox_results', 'The number of finished results not yet confirmed committed.', (s) => s.outbox);
  gauge('testudo_worker_outbox_unsynced_results', 'Of the outbox results, those written but not synced to disk yet (synced once unconfirmed for --outbox-sync-ms).', (s) => s.outboxUnsynced ?? 0);
  counter('testudo_worker_outbox_syncs_total', 'The total number of outbox fdatasync/fsync calls since the worker started.', (s) => s.outboxSyncs ?? 0);
  counter('testudo_worker_attempts_finished_total', 'The total number of attempts finished since the worker started.', (s) => s.finished);
  counter('testudo_worker_attempts_timed_total', 'The total number of attempts whose command ran, each timed in testudo_worker_attempt_phase_seconds_total.', (s) => s.attemptPhases?.attempts ?? 0);
  new Counter({
    name: 'testudo_worker_attempt_phase_seconds_total',
    help: "The total wall time the timed attempts spent in each phase on this worker: prepare (before the command's start), spawn (inside spawn(): fork and exec, the event loop waiting), command (the start to the exit), collect (the exit to the result: pipes drained, report read), report (the result to the freed slot).",
    labelNames: ['phase'],
    registers,
    collect() {
      this.reset();
      const phases = agent()?.stats().attemptPhases;
      for (const phase of attemptPhaseNames) this.inc({ phase }, phases?.seconds[phase] ?? 0);
    },
  });
  counter('testudo_worker_sessions_opened_total', 'The total number of sessions opened with a leader since the worker started.', (s) => s.sessions);
  return registry;
}
