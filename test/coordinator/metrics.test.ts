import { describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { NodeMetrics } from '../../src/coordinator/metrics.js';

/** The public contract: every name with its Prometheus type. */
const EXPECTED_TYPES: Readonly<Record<string, 'gauge' | 'counter' | 'histogram'>> = {
  testudo_build_info: 'gauge',
  testudo_raft_has_leader: 'gauge',
  testudo_raft_is_leader: 'gauge',
  testudo_raft_leader_changes_seen_total: 'counter',
  testudo_raft_term: 'gauge',
  testudo_raft_commit_index: 'gauge',
  testudo_raft_applied_index: 'gauge',
  testudo_raft_proposals_committed_total: 'counter',
  testudo_raft_proposals_applied_total: 'counter',
  testudo_raft_proposals_failed_total: 'counter',
  testudo_raft_proposals_pending: 'gauge',
  testudo_raft_commit_latency_seconds: 'histogram',
  testudo_disk_fsync_duration_seconds: 'histogram',
  testudo_disk_batch_entries: 'histogram',
  testudo_network_peer_round_trip_time_seconds: 'histogram',
  testudo_network_peer_sent_failures_total: 'counter',
  testudo_snapshot_save_total: 'counter',
  testudo_snapshot_save_duration_seconds: 'histogram',
  testudo_snapshot_apply_total: 'counter',
  testudo_snapshot_apply_duration_seconds: 'histogram',
  testudo_snapshot_sent_total: 'counter',
  testudo_snapshot_received_total: 'counter',
  testudo_grpc_requests_total: 'counter',
};

/** The value of one sample line, e.g. `testudo_raft_term{node="n1"} 3`. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    const space = line.lastIndexOf(' ');
    if (space > 0 && line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return undefined;
}

function state(leaderId: string, term = 1): { term: number; commitIndex: number; appliedIndex: number; leaderId: string } {
  return { term, commitIndex: 10, appliedIndex: 8, leaderId };
}

describe('NodeMetrics', () => {
  it('exposes every metric with its type, in its own registry', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
    const text = await metrics.metricsText();
    for (const [name, type] of Object.entries(EXPECTED_TYPES)) {
      expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
      expect(text, name).toMatch(new RegExp(`# HELP ${name} \\S`));
    }
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await globalRegistry.metrics()).not.toContain('testudo_');
  });

  it('reports the feature levels as they are at each scrape', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
    let cluster = 0;
    metrics.watchFeatureLevels(1, () => cluster);
    let text = await metrics.metricsText();
    expect(text).toContain('# TYPE testudo_feature_level gauge');
    expect(text).toContain('# TYPE testudo_cluster_feature_level gauge');
    expect([sample(text, 'testudo_feature_level{node="n1"}'), sample(text, 'testudo_cluster_feature_level{node="n1"}')]).toEqual([1, 0]);
    cluster = 1;
    text = await metrics.metricsText();
    expect(sample(text, 'testudo_cluster_feature_level{node="n1"}')).toBe(1);
  });

  it('collects process and Node.js default metrics when asked', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1' });
    const text = await metrics.metricsText();
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });

  it('labels every series with the node unless told not to', async () => {
    const labelled = await new NodeMetrics({ nodeId: 'n7', defaultMetrics: false }).metricsText();
    expect(sample(labelled, 'testudo_raft_has_leader{node="n7"}')).toBe(0);
    const bare = await new NodeMetrics({ nodeId: 'n7', nodeLabel: false, defaultMetrics: false }).metricsText();
    expect(sample(bare, 'testudo_raft_has_leader')).toBe(0);
  });

  it('counts a leader change once however often the same leader is reported', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', nodeLabel: false, defaultMetrics: false });
    metrics.setRaftState(state(''));
    expect(sample(await metrics.metricsText(), 'testudo_raft_leader_changes_seen_total')).toBe(0);
    for (let i = 0; i < 5; i++) metrics.setRaftState(state('n2'));
    let text = await metrics.metricsText();
    expect(sample(text, 'testudo_raft_leader_changes_seen_total')).toBe(1);
    expect(sample(text, 'testudo_raft_has_leader')).toBe(1);
    expect(sample(text, 'testudo_raft_is_leader')).toBe(0);

    metrics.setRaftState(state('n1', 2));
    metrics.setRaftState(state('n1', 2));
    text = await metrics.metricsText();
    expect(sample(text, 'testudo_raft_leader_changes_seen_total')).toBe(2);
    expect(sample(text, 'testudo_raft_is_leader')).toBe(1);
    expect(sample(text, 'testudo_raft_term')).toBe(2);
    expect(sample(text, 'testudo_raft_commit_index')).toBe(10);
    expect(sample(text, 'testudo_raft_applied_index')).toBe(8);

    // Losing the leader is not a change; finding one again is (as in etcd).
    metrics.setRaftState(state('', 3));
    text = await metrics.metricsText();
    expect(sample(text, 'testudo_raft_leader_changes_seen_total')).toBe(2);
    expect(sample(text, 'testudo_raft_has_leader')).toBe(0);
    expect(sample(text, 'testudo_raft_is_leader')).toBe(0);
    metrics.setRaftState(state('n1', 3));
    expect(sample(await metrics.metricsText(), 'testudo_raft_leader_changes_seen_total')).toBe(3);
  });

  it('records proposals, disk, network, snapshot and gRPC events', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', nodeLabel: false, defaultMetrics: false });
    metrics.proposalCommitted(3);
    metrics.proposalApplied(2);
    metrics.proposalFailed();
    metrics.setPending(4);
    metrics.observeFsync(0.003, 5);
    metrics.observeCommitLatency(0.0007);
    metrics.observeCommitLatency(0.0009);
    metrics.observeRoundTrip('n2', 0.00015);
    metrics.peerSendFailed('n3');
    metrics.snapshotSaved(0.5);
    metrics.snapshotApplied(1.5);
    metrics.snapshotSent();
    metrics.snapshotReceived();
    metrics.grpcRequest('/testudo.Coordinator/SubmitRun', 'OK');
    metrics.grpcRequest('/testudo.Coordinator/SubmitRun', 'OK');
    const text = await metrics.metricsText();
    expect(sample(text, 'testudo_raft_proposals_committed_total')).toBe(3);
    expect(sample(text, 'testudo_raft_proposals_applied_total')).toBe(2);
    expect(sample(text, 'testudo_raft_proposals_failed_total')).toBe(1);
    expect(sample(text, 'testudo_raft_proposals_pending')).toBe(4);
    // Buckets 0.001 · 2^k, 14 of them, as etcd's wal_fsync.
    expect(sample(text, 'testudo_disk_fsync_duration_seconds_bucket{le="0.002"}')).toBe(0);
    expect(sample(text, 'testudo_disk_fsync_duration_seconds_bucket{le="0.004"}')).toBe(1);
    expect(sample(text, 'testudo_disk_fsync_duration_seconds_bucket{le="8.192"}')).toBe(1);
    expect(text).not.toContain('testudo_disk_fsync_duration_seconds_bucket{le="16.384"}');
    expect(sample(text, 'testudo_disk_batch_entries_sum')).toBe(5);
    // Buckets 0.0005 · 2^k, 16 of them: half a millisecond to about 16 s.
    expect(sample(text, 'testudo_raft_commit_latency_seconds_bucket{le="0.0005"}')).toBe(0);
    expect(sample(text, 'testudo_raft_commit_latency_seconds_bucket{le="0.001"}')).toBe(2);
    expect(sample(text, 'testudo_raft_commit_latency_seconds_count')).toBe(2);
    expect(text).toContain('testudo_raft_commit_latency_seconds_bucket{le="16.384"}');
    expect(sample(text, 'testudo_network_peer_round_trip_time_seconds_bucket{le="0.0002",To="n2"}')).toBe(1);
    expect(sample(text, 'testudo_network_peer_round_trip_time_seconds_count{To="n2"}')).toBe(1);
    expect(sample(text, 'testudo_network_peer_sent_failures_total{To="n3"}')).toBe(1);
    expect(sample(text, 'testudo_snapshot_save_total')).toBe(1);
    expect(sample(text, 'testudo_snapshot_save_duration_seconds_sum')).toBe(0.5);
    expect(sample(text, 'testudo_snapshot_apply_total')).toBe(1);
    expect(sample(text, 'testudo_snapshot_apply_duration_seconds_sum')).toBe(1.5);
    expect(sample(text, 'testudo_snapshot_sent_total')).toBe(1);
    expect(sample(text, 'testudo_snapshot_received_total')).toBe(1);
    expect(sample(text, 'testudo_grpc_requests_total{method="/testudo.Coordinator/SubmitRun",code="OK"}')).toBe(2);
  });

  it('keeps two nodes apart', async () => {
    const a = new NodeMetrics({ nodeId: 'n1', nodeLabel: false, defaultMetrics: false });
    const b = new NodeMetrics({ nodeId: 'n2', nodeLabel: false, defaultMetrics: false });
    a.setRaftState(state('n1'));
    a.proposalFailed();
    const textA = await a.metricsText();
    const textB = await b.metricsText();
    expect(sample(textA, 'testudo_raft_leader_changes_seen_total')).toBe(1);
    expect(sample(textA, 'testudo_raft_proposals_failed_total')).toBe(1);
    expect(sample(textB, 'testudo_raft_leader_changes_seen_total')).toBe(0);
    expect(sample(textB, 'testudo_raft_proposals_failed_total')).toBe(0);
    expect(sample(textB, 'testudo_raft_has_leader')).toBe(0);
    expect(a.registry).not.toBe(b.registry);
  });

  it('refuses values that cannot be right', () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
    expect(() => metrics.observeFsync(-1, 1)).toThrow(RangeError);
    expect(() => metrics.observeFsync(Number.NaN, 1)).toThrow(RangeError);
    expect(() => metrics.observeCommitLatency(-0.001)).toThrow(RangeError);
    expect(() => metrics.proposalCommitted(1.5)).toThrow(RangeError);
    expect(() => metrics.setRaftState({ term: 1, commitIndex: 5, appliedIndex: 6, leaderId: '' })).toThrow(/appliedIndex 6 exceeds commitIndex 5/);
    expect(() => new NodeMetrics({ nodeId: '' })).toThrow(RangeError);
  });
});
