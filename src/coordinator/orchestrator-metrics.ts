import { Counter, Gauge, Histogram, exponentialBuckets, type Registry } from 'prom-client';

import type { Orchestrator } from './orchestrator/state.js';

/**
 * Metrics of runs, tasks and workers, in the node's registry. The state
 * gauges read the replicated state at scrape time, so every node reports
 * the same numbers; session, result and dispatch series are the leader's.
 */
export class OrchestratorMetrics {
  private readonly results: Counter<'status'>;
  private readonly dispatch: Histogram;
  private readonly sessionsOpen: Gauge;

  constructor(registry: Registry, orchestrator: Orchestrator, sessionsConnected: () => number) {
    const registers = [registry];
    new Gauge({
      name: 'testudo_runs',
      help: 'Runs kept in the replicated state, by state (running, passed, failed, cancelled).',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, n] of Object.entries(orchestrator.stateCounts().runs)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'testudo_tasks',
      help: 'Tasks of the kept runs, by state (queued, running, passed, failed, cancelled, failed_infra).',
      labelNames: ['state'],
      registers,
      collect() {
        const t = orchestrator.stateCounts().tasks;
        const states: [string, number][] = [
          ['queued', t.queued],
          ['running', t.running],
          ['passed', t.passed],
          ['failed', t.failed],
          ['cancelled', t.cancelled],
          ['failed_infra', t.failedInfra],
        ];
        for (const [state, n] of states) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'testudo_workers',
      help: 'Registered workers, by state (active, draining, lost).',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, n] of Object.entries(orchestrator.stateCounts().workers)) this.set({ state }, n);
      },
    });
    this.sessionsOpen = new Gauge({
      name: 'testudo_worker_sessions',
      help: 'Workers with an open session to this node (non-zero on the leader only).',
      registers,
      collect() {
        this.set(sessionsConnected());
      },
    });
    this.results = new Counter({
      name: 'testudo_results_committed_total',
      help: 'Attempt results this node (as leader) committed, by status: counted, duplicate, late (a superseded attempt; never counted), unknown.',
      labelNames: ['status'],
      registers,
    });
    this.dispatch = new Histogram({
      name: 'testudo_task_dispatch_seconds',
      help: "Time from a task's submission to its first assignment being committed (the leader's clock).",
      buckets: exponentialBuckets(0.001, 2, 20),
      registers,
    });
  }

  resultsCommitted(status: string, n: number): void {
    if (n > 0) this.results.inc({ status }, n);
  }

  dispatched(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.dispatch.observe(seconds);
  }
}
