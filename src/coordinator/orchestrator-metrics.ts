import { Counter, Gauge, Histogram, exponentialBuckets, type Registry } from 'prom-client';

import type { Orchestrator } from './orchestrator/state.js';

const breakerStateValue: Readonly<Record<string, number>> = { closed: 0, 'half-open': 1, open: 2, 'forced-open': 3, disabled: 4 };

/**
 * Metrics of runs, tasks and workers, in the node's registry. The state
 * gauges read the replicated state at scrape time, so every node reports
 * the same numbers; session, result and dispatch series are the leader's.
 */
export class OrchestratorMetrics {
  private readonly results: Counter<'status'>;
  private readonly dispatch: Histogram;
  private readonly sessionsOpen: Gauge;
  private readonly transitions: Counter<'from' | 'to'>;
  private readonly alerts: Counter<'kind'>;
  private readonly webhook: Counter<'outcome'>;

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
    new Gauge({
      name: 'testudo_breaker_state',
      help: "Each worker's circuit breaker: 0 closed, 1 half-open, 2 open, 3 forced-open (quarantined), 4 disabled.",
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of orchestrator.listWorkers()) this.set({ worker: w.workerId }, breakerStateValue[w.breaker.state] ?? -1);
      },
    });
    this.transitions = new Counter({
      name: 'testudo_breaker_transitions_total',
      help: 'Circuit breaker transitions this node applied, by from and to state.',
      labelNames: ['from', 'to'],
      registers,
    });
    this.alerts = new Counter({
      name: 'testudo_alerts_total',
      help: 'Alerts raised (on the leader): quarantine, give-up, reset-failed.',
      labelNames: ['kind'],
      registers,
    });
    this.webhook = new Counter({
      name: 'testudo_alert_webhook_calls_total',
      help: 'Alert webhook calls by outcome (ok, failed).',
      labelNames: ['outcome'],
      registers,
    });
    orchestrator.onChange((_runs, _type, events) => {
      for (const e of events) if (e.kind === 'breaker') this.transitions.inc({ from: e.from, to: e.to });
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

  alertRaised(kind: string): void {
    this.alerts.inc({ kind });
  }

  webhookCalled(ok: boolean): void {
    this.webhook.inc({ outcome: ok ? 'ok' : 'failed' });
  }

  resultsCommitted(status: string, n: number): void {
    if (n > 0) this.results.inc({ status }, n);
  }

  dispatched(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.dispatch.observe(seconds);
  }
}
