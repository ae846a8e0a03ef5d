import { Counter, Gauge, Histogram, exponentialBuckets, type Registry } from 'prom-client';

import type { Orchestrator } from './orchestrator/state.js';

const breakerStateValue: Readonly<Record<string, number>> = { closed: 0, 'half-open': 1, open: 2, 'forced-open': 3, disabled: 4 };

/** What the orchestrator metrics read from their node. */
export interface OrchestratorMetricsSource {
  readonly orchestrator: Orchestrator;
  /** Whether this node is the Raft leader now: only the leader exports the cluster-wide gauges. */
  readonly isLeader: () => boolean;
  /** Workers with an open session to this node. */
  readonly sessionsConnected: () => number;
}

/**
 * Metrics of runs, tasks and workers, in the node's registry.
 *
 * Every node holds the same replicated state, so if every node exported it a
 * `sum()` over the cluster would count each task once per replica. The
 * gauges that describe it (runs, tasks, workers, worker sessions, breaker
 * states) are therefore exported by the leader only: a follower's scrape
 * carries none of their series, and a node that loses leadership drops them
 * at its next scrape, so `sum(testudo_tasks)` over all replicas is the
 * cluster's number. For a moment around a leader change two nodes may both
 * believe they lead (the old one has not heard of the new term yet) and a
 * sum may count twice; `max()` is exact then, and `sum()` again after the
 * next scrape. The counters below likewise count only what this node did as
 * leader, so `sum(rate(...))` over all replicas is the cluster's rate.
 */
export class OrchestratorMetrics {
  private readonly results: Counter<'status'>;
  private readonly dispatch: Histogram;
  private readonly transitions: Counter<'from' | 'to'>;
  private readonly alerts: Counter<'kind'>;
  private readonly decisions: Counter<'level' | 'class'>;
  private readonly webhook: Counter<'outcome'>;

  constructor(registry: Registry, source: OrchestratorMetricsSource) {
    const registers = [registry];
    const { orchestrator, isLeader, sessionsConnected } = source;
    leaderGauge(registers, isLeader, {
      name: 'testudo_runs',
      help: 'Runs kept in the replicated state, by state (running, passed, failed, cancelled); exported by the leader only.',
      labelNames: ['state'],
      fill: (set) => {
        for (const [state, n] of Object.entries(orchestrator.stateCounts().runs)) set({ state }, n);
      },
    });
    leaderGauge(registers, isLeader, {
      name: 'testudo_tasks',
      help: 'Tasks of the kept runs, by state (queued, running, passed, failed, cancelled, failed_infra); exported by the leader only.',
      labelNames: ['state'],
      fill: (set) => {
        const t = orchestrator.stateCounts().tasks;
        const states: [string, number][] = [
          ['queued', t.queued],
          ['running', t.running],
          ['passed', t.passed],
          ['failed', t.failed],
          ['cancelled', t.cancelled],
          ['failed_infra', t.failedInfra],
        ];
        for (const [state, n] of states) set({ state }, n);
      },
    });
    leaderGauge(registers, isLeader, {
      name: 'testudo_workers',
      help: 'Registered workers, by state (active, draining, lost); exported by the leader only.',
      labelNames: ['state'],
      fill: (set) => {
        for (const [state, n] of Object.entries(orchestrator.stateCounts().workers)) set({ state }, n);
      },
    });
    leaderGauge(registers, isLeader, {
      name: 'testudo_worker_sessions',
      help: 'Workers with an open session to the leader; exported by the leader only.',
      labelNames: [],
      fill: (set) => set({}, sessionsConnected()),
    });
    leaderGauge(registers, isLeader, {
      name: 'testudo_breaker_state',
      help: "Each worker's circuit breaker: 0 closed, 1 half-open, 2 open, 3 forced-open (quarantined), 4 disabled; exported by the leader only.",
      labelNames: ['worker'],
      fill: (set) => {
        for (const w of orchestrator.listWorkers()) set({ worker: w.workerId }, breakerStateValue[w.breaker.state] ?? -1);
      },
    });
    this.transitions = new Counter({
      name: 'testudo_breaker_transitions_total',
      help: 'Circuit breaker transitions this node applied while it was the leader, by from and to state.',
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
    this.decisions = new Counter({
      name: 'testudo_recovery_decisions_total',
      help: "Recovery decisions this node applied while it was the leader, by ladder level (1 retry, 2 move, 3 reset, 4 quarantine, 5 give up; 'hold' waits out a fleet-wide fault) and failure class.",
      labelNames: ['level', 'class'],
      registers,
    });
    const hedges = new Counter({
      name: 'testudo_hedges_total',
      help: "Hedges of straggling tasks this node applied while it was the leader, by step: started, won (the hedge's verdict came first), lost (the hedged attempt's did).",
      labelNames: ['step'],
      registers,
    });
    orchestrator.onChange((_runs, _type, events) => {
      if (!isLeader()) return;
      for (const e of events) {
        if (e.kind === 'breaker') this.transitions.inc({ from: e.from, to: e.to });
        else if (e.kind === 'decision') this.decisions.inc({ level: e.hold ? 'hold' : String(e.level), class: e.failureClass });
        else if (e.kind === 'hedge') hedges.inc({ step: e.step });
      }
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

/**
 * A gauge filled at scrape time on the leader and empty elsewhere: on a
 * follower it has no series at all (not a 0, which would still be summed
 * and would hide which node answered).
 */
function leaderGauge<L extends string>(
  registers: Registry[],
  isLeader: () => boolean,
  spec: { name: string; help: string; labelNames: L[]; fill: (set: (labels: Partial<Record<L, string>>, value: number) => void) => void },
): void {
  new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers,
    collect() {
      this.reset();
      // reset() leaves a 0 in a gauge without labels: remove it too.
      if (spec.labelNames.length === 0) this.remove({});
      if (!isLeader()) return;
      spec.fill((labels, value) => this.set(labels, value));
    },
  });
}
