import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';

import { registerBuildInfo } from '../common/build-info.js';

/**
 * Prometheus metrics of one coordinator node.
 *
 * Each node owns its own `Registry` (never prom-client's global one), so
 * several nodes in one process — the simulator, integration tests — keep
 * separate numbers. Names follow etcd's under the `testudo_` prefix
 * (`etcd_server_has_leader` → `testudo_raft_has_leader`,
 * `etcd_disk_wal_fsync_duration_seconds` → `testudo_disk_fsync_duration_seconds`),
 * so etcd dashboards and alerts translate by renaming. The names, types and
 * labels are a public contract: change them only with a note in the release
 * notes and an update of deploy/ (rules, dashboard).
 *
 * Durations are histograms, never summaries: histograms aggregate across
 * nodes in PromQL. Every metric is this node's own view (the Raft metrics
 * differ per node, as in etcd); the run, task and worker gauges that
 * describe the replicated state are exported by the leader only
 * (orchestrator-metrics.ts). The full list is in docs/metrics.md.
 */
export class NodeMetrics {
  readonly nodeId: string;
  readonly registry: Registry;

  /** 1 when this node knows a leader for its current term, else 0 (etcd_server_has_leader). */
  private readonly hasLeader: Gauge;
  /** 1 when this node is the leader, else 0 (etcd_server_is_leader). */
  private readonly isLeader: Gauge;
  /**
   * Times this node has seen a new leader (etcd_server_leader_changes_seen_total):
   * incremented when a known leader differs from the last leader this node
   * reported, including none → leader. A leader that is lost and found again
   * counts again, as in etcd.
   */
  private readonly leaderChanges: Counter;
  /** This node's current Raft term. */
  private readonly term: Gauge;
  /** Highest log index this node knows to be committed. */
  private readonly commitIndex: Gauge;
  /** Highest log index this node has applied to its state machine. */
  private readonly appliedIndex: Gauge;
  /** Log entries this node has seen committed (etcd's is a gauge of the index; ours counts). */
  private readonly proposalsCommitted: Counter;
  /** Log entries this node has applied to its state machine. */
  private readonly proposalsApplied: Counter;
  /** Proposals that failed: refused (not leader, limits), dropped, or lost to a leader change. */
  private readonly proposalsFailed: Counter;
  /** Proposals accepted by this node and waiting to be applied. */
  private readonly proposalsPending: Gauge;
  /** Duration of one synced write of a Ready (entries + hard state) to disk (etcd_disk_wal_fsync_duration_seconds). */
  private readonly fsyncDuration: Histogram;
  /**
   * Proposal accepted by this node (the leader) → committed and applied here:
   * the write latency a client sees, less the gRPC hop.
   */
  private readonly commitLatency: Histogram;
  /** Log entries written per synced batch; large batches mean group commit is working. */
  private readonly batchEntries: Histogram;
  /** Round-trip time of a heartbeat/append to a peer (etcd_network_peer_round_trip_time_seconds). */
  private readonly peerRoundTrip: Histogram<'To'>;
  /** Messages to a peer that could not be sent (etcd_network_peer_sent_failures_total). */
  private readonly peerSendFailures: Counter<'To'>;
  /** Snapshots this node has taken (and synced) of its own state machine. */
  private readonly snapshotSaveTotal: Counter;
  /** Time to take and persist one snapshot. */
  private readonly snapshotSaveDuration: Histogram;
  /** Snapshots received from a leader and restored into the state machine. */
  private readonly snapshotApplyTotal: Counter;
  /** Time to restore one received snapshot into the state machine. */
  private readonly snapshotApplyDuration: Histogram;
  /** Snapshots this node (as leader) has sent to followers too far behind. */
  private readonly snapshotSentTotal: Counter;
  /** Snapshots this node has received from a leader. */
  private readonly snapshotReceivedTotal: Counter;
  /** gRPC requests handled, by full method name and status code name (OK, UNAVAILABLE, …). */
  private readonly grpcRequests: Counter<'method' | 'code'>;

  /** How late each event-loop probe ran (see `startLoopLagMonitor`). */
  private readonly loopLag: Histogram;
  /** The largest probe lateness within the last one or two `loopLagMaxWindowMs` windows. */
  private readonly loopLagMax: Gauge;
  private loopLagMaxCurrentS = 0;
  private loopLagMaxPreviousS = 0;

  /** Leader last reported through `setRaftState`; '' for none. */
  private leaderIdLast = '';

  /**
   * @param options.nodeId Raft id of this node; also decides `is_leader`.
   * @param options.nodeLabel Add `{node: nodeId}` to every series (default true):
   *   needed when several nodes share a scrape target, harmless otherwise.
   * @param options.defaultMetrics Collect prom-client's process and Node.js
   *   metrics (default true). Each collection starts an event-loop-delay
   *   monitor, so simulations with hundreds of nodes may turn it off.
   */
  constructor(options: { nodeId: string; nodeLabel?: boolean; defaultMetrics?: boolean }) {
    if (options.nodeId === '') throw new RangeError('NodeMetrics: nodeId must not be empty');
    this.nodeId = options.nodeId;
    this.registry = new Registry();
    if (options.nodeLabel ?? true) this.registry.setDefaultLabels({ node: options.nodeId });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    registerBuildInfo(this.registry);

    this.hasLeader = new Gauge({ name: 'testudo_raft_has_leader', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', registers });
    this.isLeader = new Gauge({ name: 'testudo_raft_is_leader', help: 'Whether or not this node is the leader. 1 if is, 0 otherwise.', registers });
    this.leaderChanges = new Counter({ name: 'testudo_raft_leader_changes_seen_total', help: 'The number of leader changes seen.', registers });
    this.term = new Gauge({ name: 'testudo_raft_term', help: 'The current Raft term of this node.', registers });
    this.commitIndex = new Gauge({ name: 'testudo_raft_commit_index', help: 'The highest log index known to be committed.', registers });
    this.appliedIndex = new Gauge({ name: 'testudo_raft_applied_index', help: 'The highest log index applied to the state machine.', registers });
    this.proposalsCommitted = new Counter({ name: 'testudo_raft_proposals_committed_total', help: 'The total number of log entries seen committed.', registers });
    this.proposalsApplied = new Counter({ name: 'testudo_raft_proposals_applied_total', help: 'The total number of log entries applied.', registers });
    this.proposalsFailed = new Counter({ name: 'testudo_raft_proposals_failed_total', help: 'The total number of failed proposals.', registers });
    this.proposalsPending = new Gauge({ name: 'testudo_raft_proposals_pending', help: 'The number of proposals waiting to be applied.', registers });
    this.fsyncDuration = new Histogram({
      name: 'testudo_disk_fsync_duration_seconds',
      help: 'The latency distributions of synced writes of Raft entries and hard state.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.commitLatency = new Histogram({
      name: 'testudo_raft_commit_latency_seconds',
      help: 'The latency distributions of proposals on the leader, from proposal to committed and applied.',
      buckets: exponentialBuckets(0.0005, 2, 16),
      registers,
    });
    this.batchEntries = new Histogram({
      name: 'testudo_disk_batch_entries',
      help: 'The number of log entries written per synced batch.',
      buckets: exponentialBuckets(1, 2, 14),
      registers,
    });
    this.peerRoundTrip = new Histogram({
      name: 'testudo_network_peer_round_trip_time_seconds',
      help: 'Round-trip time histogram between peers.',
      labelNames: ['To'],
      buckets: exponentialBuckets(0.0001, 2, 16),
      registers,
    });
    this.peerSendFailures = new Counter({ name: 'testudo_network_peer_sent_failures_total', help: 'The total number of send failures to peers.', labelNames: ['To'], registers });
    this.snapshotSaveTotal = new Counter({ name: 'testudo_snapshot_save_total', help: 'The total number of snapshots saved.', registers });
    this.snapshotSaveDuration = new Histogram({
      name: 'testudo_snapshot_save_duration_seconds',
      help: 'The latency distributions of taking and persisting a snapshot.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.snapshotApplyTotal = new Counter({ name: 'testudo_snapshot_apply_total', help: 'The total number of received snapshots applied.', registers });
    this.snapshotApplyDuration = new Histogram({
      name: 'testudo_snapshot_apply_duration_seconds',
      help: 'The latency distributions of restoring a received snapshot.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.snapshotSentTotal = new Counter({ name: 'testudo_snapshot_sent_total', help: 'The total number of snapshots sent to followers.', registers });
    this.snapshotReceivedTotal = new Counter({ name: 'testudo_snapshot_received_total', help: 'The total number of snapshots received from a leader.', registers });
    this.grpcRequests = new Counter({
      name: 'testudo_grpc_requests_total',
      help: 'The total number of gRPC requests handled, by method and status code.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.loopLag = new Histogram({
      name: 'testudo_event_loop_lag_seconds',
      help: `How late a timer due every ${loopLagProbeIntervalMs} ms ran: the time the event loop was busy with other work.`,
      buckets: exponentialBuckets(0.0005, 1.5, 22),
      registers,
    });
    this.loopLagMax = new Gauge({
      name: 'testudo_event_loop_lag_max_seconds',
      help: `The largest event-loop lag seen in the last ${loopLagMaxWindowMs / 1000} to ${(2 * loopLagMaxWindowMs) / 1000} seconds.`,
      registers,
      collect: () => this.loopLagMax.set(Math.max(this.loopLagMaxCurrentS, this.loopLagMaxPreviousS)),
    });
  }

  /**
   * Reports the feature levels (feature-level.ts) as they are when scraped:
   * `testudo_feature_level`, this node's own, and
   * `testudo_cluster_feature_level`, the level it would write the log at as
   * leader (the lowest of every member's it has a stream from). Called once.
   */
  watchFeatureLevels(own: number, clusterLevel: () => number): void {
    const registers = [this.registry];
    new Gauge({ name: 'testudo_feature_level', help: 'The feature level of this build: the newest kinds of log entries it can apply.', registers }).set(own);
    const cluster: Gauge = new Gauge({
      name: 'testudo_cluster_feature_level',
      help: 'The level this node writes log entries at as leader: the lowest of its own and every member\'s from its open stream (0 for a member not heard from). Read it on the leader.',
      registers,
      collect: () => cluster.set(clusterLevel()),
    });
  }

  /**
   * Probes the event loop with a timer due every `loopLagProbeIntervalMs`
   * and records how late each one ran. A coordinator whose loop is blocked
   * delays heartbeats and elections by as much, so this is the lag that
   * bounds failover. Returns the function that stops the probe.
   */
  startLoopLagMonitor(): () => void {
    let dueMs = performance.now() + loopLagProbeIntervalMs;
    let windowEndMs = performance.now() + loopLagMaxWindowMs;
    let timer: NodeJS.Timeout | null = null;
    const probe = (): void => {
      const nowMs = performance.now();
      this.observeLoopLag(Math.max(0, nowMs - dueMs) / 1000);
      if (nowMs >= windowEndMs) {
        this.loopLagMaxPreviousS = this.loopLagMaxCurrentS;
        this.loopLagMaxCurrentS = 0;
        windowEndMs = nowMs + loopLagMaxWindowMs;
      }
      dueMs = nowMs + loopLagProbeIntervalMs;
      timer = setTimeout(probe, loopLagProbeIntervalMs).unref();
    };
    timer = setTimeout(probe, loopLagProbeIntervalMs).unref();
    return () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    };
  }

  /** One probe of the event loop ran `seconds` late. */
  observeLoopLag(seconds: number): void {
    assertSeconds(seconds);
    this.loopLag.observe(seconds);
    this.loopLagMaxCurrentS = Math.max(this.loopLagMaxCurrentS, seconds);
  }

  /**
   * Report the node's Raft state after each Ready. `leaderId` is '' when no
   * leader is known; `is_leader` is derived from it so the two gauges never
   * disagree.
   */
  setRaftState(state: { term: number; commitIndex: number; appliedIndex: number; leaderId: string }): void {
    assertCount('term', state.term);
    assertCount('commitIndex', state.commitIndex);
    assertCount('appliedIndex', state.appliedIndex);
    if (state.appliedIndex > state.commitIndex) {
      throw new RangeError(`NodeMetrics: appliedIndex ${state.appliedIndex} exceeds commitIndex ${state.commitIndex}`);
    }
    if (state.leaderId !== '' && state.leaderId !== this.leaderIdLast) this.leaderChanges.inc();
    this.leaderIdLast = state.leaderId;
    this.hasLeader.set(state.leaderId === '' ? 0 : 1);
    this.isLeader.set(state.leaderId === this.nodeId ? 1 : 0);
    this.term.set(state.term);
    this.commitIndex.set(state.commitIndex);
    this.appliedIndex.set(state.appliedIndex);
  }

  /** One synced write to disk took `seconds` and held `entries` log entries. */
  observeFsync(seconds: number, entries: number): void {
    assertSeconds(seconds);
    assertCount('entries', entries);
    this.fsyncDuration.observe(seconds);
    this.batchEntries.observe(entries);
  }

  /** A proposal made on this node was committed (and applied here) `seconds` after it was proposed. */
  observeCommitLatency(seconds: number): void {
    assertSeconds(seconds);
    this.commitLatency.observe(seconds);
  }

  /** `entries` log entries became committed. */
  proposalCommitted(entries = 1): void {
    assertCount('entries', entries);
    this.proposalsCommitted.inc(entries);
  }

  /** `entries` log entries were applied to the state machine. */
  proposalApplied(entries = 1): void {
    assertCount('entries', entries);
    this.proposalsApplied.inc(entries);
  }

  proposalFailed(): void {
    this.proposalsFailed.inc();
  }

  setPending(proposals: number): void {
    assertCount('proposals', proposals);
    this.proposalsPending.set(proposals);
  }

  observeRoundTrip(peerId: string, seconds: number): void {
    assertSeconds(seconds);
    this.peerRoundTrip.observe({ To: peerId }, seconds);
  }

  peerSendFailed(peerId: string): void {
    this.peerSendFailures.inc({ To: peerId });
  }

  snapshotSaved(seconds: number): void {
    assertSeconds(seconds);
    this.snapshotSaveTotal.inc();
    this.snapshotSaveDuration.observe(seconds);
  }

  snapshotApplied(seconds: number): void {
    assertSeconds(seconds);
    this.snapshotApplyTotal.inc();
    this.snapshotApplyDuration.observe(seconds);
  }

  snapshotSent(): void {
    this.snapshotSentTotal.inc();
  }

  snapshotReceived(): void {
    this.snapshotReceivedTotal.inc();
  }

  /**
   * One gRPC request finished. `method` must come from the service
   * definitions (bounded), `code` is the gRPC status name such as 'OK'.
   */
  grpcRequest(method: string, code: string): void {
    this.grpcRequests.inc({ method, code });
  }

  /** The Content-Type header for `metricsText()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric of this node in the Prometheus text exposition format. */
  async metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Period of the event-loop probe: short enough to see a pause that delays a heartbeat, cheap (100 timers a second). */
export const loopLagProbeIntervalMs = 10;

/** The lag max gauge covers the current window and the one before, so a reader polling at least this often misses no peak. */
export const loopLagMaxWindowMs = 2000;

function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`NodeMetrics: ${name} must be a non-negative integer, got ${value}`);
}

function assertSeconds(seconds: number): void {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`NodeMetrics: a duration must be finite and non-negative, got ${seconds}`);
}
