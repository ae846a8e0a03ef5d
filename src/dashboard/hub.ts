import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { assert } from '../raft/index.js';
import * as limits from './limits.js';
import {
  faultsSection,
  newestFaultEntries,
  nodeSection,
  queueSection,
  runsSection,
  workersSection,
  type ClusterSection,
  type FaultsSection,
  type LeaderChange,
  type MetricPoint,
  type RecentEvent,
  type SectionName,
  type SessionsSection,
  type WorkerRow,
} from './sections.js';
import type { DashboardSources, MemberRow, OrchestratorChange } from './sources.js';

/** The hub's bounds; tests and the benchmark lower or raise them. */
export interface HubLimits {
  readonly streamsMax: number;
  readonly updatesPerSecondMax: number;
  readonly eventBytesMax: number;
  readonly ringEventsMax: number;
  readonly ringBytesMax: number;
  readonly streamBufferBytesMax: number;
  readonly keepAliveMs: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly viewerIdleMs: number;
}

/** Changed runs a patch lists one by one; more and it carries the whole runs section. */
const runsDeltaMax = 100;
/** Weight of a new round-trip sample in the moving average. */
const rttSmoothing = 0.2;
/** Least time between two builds of the queue section. */
const queueRebuildMs = 1000;

export const hubLimitsDefault: HubLimits = {
  streamsMax: limits.dashboardStreamsMax,
  updatesPerSecondMax: limits.dashboardUpdatesPerSecondMax,
  eventBytesMax: limits.dashboardEventBytesMax,
  ringEventsMax: limits.dashboardRingEventsMax,
  ringBytesMax: limits.dashboardRingBytesMax,
  streamBufferBytesMax: limits.dashboardStreamBufferBytesMax,
  keepAliveMs: limits.dashboardKeepAliveMs,
  probeIntervalMs: limits.dashboardProbeIntervalMs,
  probeTimeoutMs: limits.dashboardProbeTimeoutMs,
  viewerIdleMs: limits.dashboardViewerIdleMs,
};

/** The JSON snapshot: every section, and the id of the last event it includes. */
export interface DashboardSnapshot {
  readonly eventId: string;
  readonly sections: Readonly<Record<SectionName, unknown>>;
}

interface RingEntry {
  readonly seq: number;
  readonly frame: Buffer;
}

interface Stream {
  readonly response: ServerResponse;
  keepAlive: NodeJS.Timeout;
}

export interface HubLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/**
 * The dashboard's live state and its event streams. Changes (applied
 * orchestrator commands, Raft role changes, member probes) mark sections
 * dirty; at most `updatesPerSecondMax` times a second the dirty sections are
 * built once, serialized once, kept in a bounded ring (so a reconnecting page
 * resumes from its Last-Event-ID) and written to every open stream. The cost
 * of a change is therefore independent of the number of streams except for
 * one socket write each.
 */
export class DashboardHub {
  /** Distinguishes this process's event ids from a previous incarnation's. */
  readonly bootId = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly ring: RingEntry[] = [];
  private ringBytes = 0;
  private readonly streams = new Set<Stream>();
  private readonly dirty = new Set<SectionName>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushDueMs = 0;
  private lastFlushMs = -Infinity;
  private lastViewerMs = -Infinity;
  private readonly probeTimer: NodeJS.Timeout;
  private probing: Promise<void> | null = null;
  private members: readonly MemberRow[] = [];
  private probedAtMs = 0;
  private readonly lastContactMs = new Map<string, number>();
  private readonly leaderChanges: LeaderChange[] = [];
  private readonly recent: RecentEvent[] = [];
  private sessions: SessionsSection = { from: 'unavailable', atMs: 0, workers: {} };
  private readonly unsubscribe: () => void;
  private stopped = false;
  private snapshotCache: { seq: number; atMs: number; body: string } | null = null;
  /** Runs changed since the last flush: a patch carries only their summaries (runsDelta). */
  private readonly touchedRuns = new Set<string>();
  private lastQueueBuildMs = -Infinity;
  private readonly points: MetricPoint[] = [];
  /** Samples taken, and how many of them a patch has carried: a patch carries every sample since the previous one. */
  private pointsTaken = 0;
  private pointsSent = 0;
  private fsyncMs: number[] = [];
  private commitMs: number[] = [];
  private readonly rttMs = new Map<string, number>();
  /** Each worker row as last sent (JSON), so that a patch carries only the rows that changed. */
  private sentWorkers = new Map<string, string>();
  private rttChanged = false;
  private faults: FaultsSection = { faults: [], omitted: 0, unread: false, malformed: 0 };
  /** The fault record keys and write indexes last decoded: a record changed when this did. */
  private faultsSignature = '';

  constructor(
    private readonly sources: DashboardSources,
    private readonly log: HubLogger,
    readonly limits: HubLimits = hubLimitsDefault,
  ) {
    assert(limits.updatesPerSecondMax > 0 && limits.streamsMax >= 0 && limits.ringEventsMax > 0, 'dashboard limits must be positive');
    this.unsubscribe = sources.onChange((change) => this.onOrchestratorChange(change));
    this.probeTimer = setInterval(() => {
      if (!this.watched()) return;
      void this.probe();
      this.sample();
      this.refreshFaults();
    }, limits.probeIntervalMs);
    this.probeTimer.unref();
    const st = sources.raftStatus();
    this.raftStateChanged(st.term, st.leader);
    this.refreshFaults();
  }

  get streamsOpen(): number {
    return this.streams.size;
  }

  /** Id of the newest event. */
  get lastEventId(): string {
    return this.eventId(this.seq);
  }

  /** Call when this node's view of the leader, term or role changed. */
  raftStateChanged(term: number, leaderId: string): void {
    const last = this.leaderChanges[this.leaderChanges.length - 1];
    if (last === undefined || last.leaderId !== leaderId || last.term !== term) {
      if (last !== undefined && last.leaderId === leaderId) this.leaderChanges.pop();
      this.leaderChanges.push({ atMs: this.sources.nowMs(), term, leaderId });
      if (this.leaderChanges.length > limits.dashboardLeaderChangesMax) this.leaderChanges.shift();
    }
    this.markDirty('node', 'cluster');
    // Members' roles changed too: look again now rather than at the next tick.
    if (this.watched()) void this.probe();
  }

  /** Call after each synced write of the Raft log (the charts' fsync series). */
  observeFsync(seconds: number): void {
    if (this.fsyncMs.length < limits.dashboardFsyncSamplesMax) this.fsyncMs.push(seconds * 1000);
  }

  /** Call when a proposal made on this node (the leader) was committed, `seconds` after it was proposed (the commit latency chart). */
  observeCommitLatency(seconds: number): void {
    if (this.commitMs.length < limits.dashboardCommitSamplesMax) this.commitMs.push(seconds * 1000);
  }

  /** Call with each measured round trip to a peer (the topology's link colours). */
  observeRoundTrip(peer: string, seconds: number): void {
    const ms = seconds * 1000;
    const previous = this.rttMs.get(peer);
    if (previous === undefined && this.rttMs.size >= limits.dashboardPeersMax) return;
    this.rttMs.set(peer, previous === undefined ? ms : previous + rttSmoothing * (ms - previous));
    this.rttChanged = true;
  }

  /** The whole state as JSON text; built at most `updatesPerSecondMax` times a second however many ask. */
  async snapshotJson(): Promise<string> {
    this.lastViewerMs = this.sources.nowMs();
    if (this.sources.nowMs() - this.probedAtMs > 2 * this.limits.probeIntervalMs) await this.probe();
    this.refreshFaults();
    const now = this.sources.nowMs();
    const cache = this.snapshotCache;
    if (cache !== null && cache.seq === this.seq && now - cache.atMs < 1000 / this.limits.updatesPerSecondMax) return cache.body;
    const snapshot: DashboardSnapshot = { eventId: this.lastEventId, sections: this.buildAll() };
    const body = JSON.stringify(snapshot);
    this.snapshotCache = { seq: this.seq, atMs: now, body };
    return body;
  }

  /**
   * Takes `response` as an event stream, resuming after `lastEventId` when
   * the ring still holds what followed it, else starting with a snapshot.
   * Returns false (and leaves the response alone) when streamsMax are open.
   */
  openStream(response: ServerResponse, lastEventId: string | undefined, headers: Readonly<Record<string, string>>): boolean {
    if (this.stopped || this.streams.size >= this.limits.streamsMax) return false;
    response.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    response.socket?.setNoDelay(true);
    const stream: Stream = { response, keepAlive: setInterval(() => this.write(stream, Buffer.from(': keep-alive\n\n')), this.limits.keepAliveMs) };
    stream.keepAlive.unref();
    this.streams.add(stream);
    this.lastViewerMs = this.sources.nowMs();
    response.on('close', () => this.dropStream(stream));
    this.write(stream, Buffer.from(`retry: ${limits.dashboardRetryMs}\n\n`));
    const resumeFrom = this.resumableSeq(lastEventId);
    if (resumeFrom === null) {
      void this.snapshotJson().then((body) => {
        if (!this.streams.has(stream)) return;
        const frame = Buffer.byteLength(body) <= this.limits.eventBytesMax ? this.frame(this.seq, 'snapshot', body) : this.frame(this.seq, 'resync', '{"reason":"snapshot too large for one event"}');
        this.write(stream, frame);
      });
    } else {
      for (const entry of this.ring) if (entry.seq > resumeFrom) this.write(stream, entry.frame);
    }
    return true;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    clearInterval(this.probeTimer);
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    for (const stream of [...this.streams]) stream.response.destroy();
  }

  // ------------------------------------------------------------ internals

  private watched(): boolean {
    return this.streams.size > 0 || this.sources.nowMs() - this.lastViewerMs < this.limits.viewerIdleMs;
  }

  private eventId(seq: number): string {
    return `${this.bootId}-${seq}`;
  }

  /** The seq to replay after, or null when the page needs a snapshot. */
  private resumableSeq(lastEventId: string | undefined): number | null {
    if (lastEventId === undefined) return null;
    const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId.trim());
    if (match === null || match[1] !== this.bootId) return null;
    const seq = Number(match[2]);
    if (seq > this.seq) return null;
    if (seq === this.seq) return seq;
    const oldest = this.ring[0];
    // The ring must hold every event after seq.
    return oldest !== undefined && oldest.seq <= seq + 1 ? seq : null;
  }

  private onOrchestratorChange(change: OrchestratorChange): void {
    for (const runId of change.runIds) this.touchedRuns.add(runId);
    this.markDirty('node', 'workers', 'runs', 'queue');
    if (change.events.length === 0) return;
    for (const event of change.events) {
      // Per-task recovery decisions are too many for the feed; `runs show --explain` has them.
      if (event.kind === 'decision') continue;
      const workerId = typeof event['workerId'] === 'string' ? event['workerId'] : '';
      const atMs = typeof event['atMs'] === 'number' ? event['atMs'] : this.sources.nowMs();
      const text =
        event.kind === 'breaker'
          ? `breaker ${String(event['from'])} → ${String(event['to'])}: ${String(event['reason'])}`
          : event.kind === 'reset'
            ? `reset asked: ${String(event['reason'])}`
            : `${String(event['alert'])}: ${String(event['text'])}`;
      this.recent.push({ kind: event.kind, atMs, workerId, text: text.slice(0, 500) });
    }
    while (this.recent.length > limits.dashboardRecentEventsMax) this.recent.shift();
    this.markDirty('events');
  }

  private markDirty(...sections: SectionName[]): void {
    if (!this.watched()) return this.forgetChanges();
    for (const s of sections) this.dirty.add(s);
    this.scheduleFlush(0);
  }

  /**
   * Nobody watches: a change is not built, serialized nor kept (the queue
   * section alone reads every live task of a 20,000-task run, once a second,
   * on every coordinator). The next page starts with a snapshot: the sequence
   * moves on and the ring is emptied, so no Last-Event-ID from before can
   * resume past the changes dropped here, and the deltas' baselines are
   * forgotten, so the first patch after it carries every row again.
   */
  private forgetChanges(): void {
    this.seq++;
    this.dirty.clear();
    this.touchedRuns.clear();
    this.sentWorkers = new Map();
    this.pointsSent = this.pointsTaken;
    this.ring.length = 0;
    this.ringBytes = 0;
    this.snapshotCache = null;
  }

  /** Flushes at the earliest allowed time, and not before `atLeastMs` from now; an earlier call wins over a later timer. */
  private scheduleFlush(atLeastMs: number): void {
    if (this.stopped || this.dirty.size === 0) return;
    const now = this.sources.nowMs();
    const intervalMs = 1000 / this.limits.updatesPerSecondMax;
    const waitMs = Math.max(atLeastMs, this.lastFlushMs + intervalMs - now);
    if (this.flushTimer !== null) {
      if (this.flushDueMs <= now + waitMs) return;
      clearTimeout(this.flushTimer);
    }
    this.flushDueMs = now + waitMs;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, waitMs);
    this.flushTimer.unref();
  }

  private flush(): void {
    if (this.dirty.size === 0 || this.stopped) return;
    if (!this.watched()) return this.forgetChanges();
    const now = this.sources.nowMs();
    this.lastFlushMs = now;
    // The queue costs a walk of every running run: rebuilt at most once a second.
    const queueWaitMs = this.lastQueueBuildMs + queueRebuildMs - now;
    const names = [...this.dirty].filter((name) => name !== 'queue' || queueWaitMs <= 0);
    for (const name of names) this.dirty.delete(name);
    if (names.length === 0) return this.scheduleFlush(queueWaitMs);
    const sections: Record<string, unknown> = {};
    for (const name of names) {
      if (name === 'runs' && this.touchedRuns.size <= runsDeltaMax) sections['runsDelta'] = this.runsDelta();
      else if (name === 'metrics') sections['metricsPoints'] = this.newPoints();
      else if (name === 'workers') sections['workersDelta'] = this.workersDelta();
      else sections[name] = this.build(name);
    }
    this.touchedRuns.clear();
    if (names.includes('queue')) this.lastQueueBuildMs = now;
    this.seq++;
    let data = JSON.stringify({ sections });
    let type = 'patch';
    if (Buffer.byteLength(data) > this.limits.eventBytesMax) {
      // The page fetches the snapshot instead: one cached build for every page.
      type = 'resync';
      data = JSON.stringify({ reason: `an update of ${names.join(', ')} exceeds ${this.limits.eventBytesMax} bytes` });
    }
    const frame = this.frame(this.seq, type, data);
    this.ring.push({ seq: this.seq, frame });
    this.ringBytes += frame.length;
    while (this.ring.length > this.limits.ringEventsMax || (this.ringBytes > this.limits.ringBytesMax && this.ring.length > 1)) {
      this.ringBytes -= this.ring.shift()!.frame.length;
    }
    for (const stream of [...this.streams]) this.write(stream, frame);
    if (this.dirty.has('queue')) this.scheduleFlush(Math.max(0, this.lastQueueBuildMs + queueRebuildMs - this.sources.nowMs()));
  }

  /** The worker rows that differ from those last sent, and the ids of those no longer sent. */
  private workersDelta(): { changed: WorkerRow[]; removed: string[]; omitted: number } {
    const section = workersSection(this.sources.listWorkers());
    const next = new Map<string, string>();
    const changed: WorkerRow[] = [];
    for (const row of section.workers) {
      const json = JSON.stringify(row);
      next.set(row.workerId, json);
      if (this.sentWorkers.get(row.workerId) !== json) changed.push(row);
    }
    const removed = [...this.sentWorkers.keys()].filter((id) => !next.has(id));
    this.sentWorkers = next;
    return { changed, removed, omitted: section.omitted };
  }

  /** The summaries of the runs changed since the last flush, and the ids of those gone (pruned). */
  private runsDelta(): { counts: unknown; changed: unknown[]; removed: string[] } {
    const changed: unknown[] = [];
    const removed: string[] = [];
    for (const runId of this.touchedRuns) {
      const summary = this.sources.getRunSummary(runId);
      if (summary === undefined) removed.push(runId);
      else changed.push(summary);
    }
    return { counts: this.sources.stateCounts(), changed, removed };
  }

  private frame(seq: number, type: string, data: string): Buffer {
    return Buffer.from(`id: ${this.eventId(seq)}\nevent: ${type}\ndata: ${data}\n\n`, 'utf8');
  }

  private write(stream: Stream, frame: Buffer): void {
    const response = stream.response;
    if (response.destroyed) return this.dropStream(stream);
    if (response.writableLength > this.limits.streamBufferBytesMax) {
      this.log.debug({ buffered: response.writableLength }, 'dashboard stream reads too slowly; closing it (it resumes by id)');
      response.destroy();
      return this.dropStream(stream);
    }
    response.write(frame);
  }

  private dropStream(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    clearInterval(stream.keepAlive);
    this.lastViewerMs = this.sources.nowMs();
  }

  private buildAll(): Record<SectionName, unknown> {
    return {
      node: this.build('node'),
      cluster: this.build('cluster'),
      workers: this.build('workers'),
      sessions: this.build('sessions'),
      runs: this.build('runs'),
      queue: this.build('queue'),
      events: this.build('events'),
      faults: this.build('faults'),
      metrics: this.build('metrics'),
    };
  }

  private build(name: SectionName): unknown {
    const s = this.sources;
    switch (name) {
      case 'node':
        return nodeSection(s.nodeId, s.raftStatus(), s.nowMs());
      case 'cluster':
        return {
          members: this.members.map((m) => ({ ...m, lastContactMs: this.lastContactMs.get(m.id) ?? null })),
          probedAtMs: this.probedAtMs,
          leaderChanges: [...this.leaderChanges],
          rttMs: Object.fromEntries([...this.rttMs].map(([peer, ms]) => [peer, Math.round(ms * 100) / 100])),
        } satisfies ClusterSection;
      case 'workers':
        // Not the deltas' baseline: that is only what the patches carried, which every stream applied in order.
        return workersSection(s.listWorkers());
      case 'sessions':
        return this.sessions;
      case 'runs':
        return runsSection(s.listRuns(), s.stateCounts());
      case 'queue':
        return queueSection(s);
      case 'events':
        return { recent: [...this.recent] };
      case 'faults':
        return this.faults;
      case 'metrics':
        return { points: [...this.points] };
    }
  }

  /**
   * Looks at the fault records (key-value writes, which raise no orchestrator
   * change): decodes them again only when a key or its write index changed.
   */
  private refreshFaults(): void {
    const read = newestFaultEntries(this.sources);
    const signature = `${read.omitted};${read.unread};${read.entries.map((e) => `${e.key}@${e.modIndex}`).join(',')}`;
    if (signature === this.faultsSignature) return;
    this.faultsSignature = signature;
    this.faults = faultsSection(read);
    this.markDirty('faults');
  }

  /** Takes one sample for the charts. */
  private sample(): void {
    const counts = this.sources.stateCounts() as { tasks?: { queued: number; running: number; passed: number; failed: number; failedInfra: number; cancelled: number } };
    const t = counts.tasks ?? { queued: 0, running: 0, passed: 0, failed: 0, failedInfra: 0, cancelled: 0 };
    const fsync = durationStats(this.fsyncMs);
    const commit = durationStats(this.commitMs);
    this.fsyncMs = [];
    this.commitMs = [];
    this.points.push({
      atMs: this.sources.nowMs(),
      queued: t.queued,
      running: t.running,
      ended: t.passed + t.failed + t.failedInfra + t.cancelled,
      passed: t.passed,
      failed: t.failed,
      failedInfra: t.failedInfra,
      commitIndex: this.sources.raftStatus().commit,
      fsyncs: fsync.count,
      fsyncP50Ms: fsync.p50Ms,
      fsyncMaxMs: fsync.maxMs,
      commits: commit.count,
      commitP50Ms: commit.p50Ms,
      commitP99Ms: commit.p99Ms,
    });
    this.pointsTaken++;
    if (this.points.length > limits.dashboardMetricPointsMax) this.points.shift();
    this.markDirty('metrics');
    if (this.rttChanged) this.markDirty('cluster');
    this.rttChanged = false;
  }

  /** The samples taken since the previous patch, oldest first (two may fall between patches when the flushes fall behind the sampling). */
  private newPoints(): MetricPoint[] {
    const count = Math.min(this.pointsTaken - this.pointsSent, this.points.length);
    this.pointsSent = this.pointsTaken;
    return count === 0 ? [] : this.points.slice(-count);
  }

  /** Probes the members and the leader's session facts; one probe at a time, shared by every caller. */
  private probe(): Promise<void> {
    this.probing ??= this.probeOnce().finally(() => (this.probing = null));
    return this.probing;
  }

  private async probeOnce(): Promise<void> {
    const timeoutMs = this.limits.probeTimeoutMs;
    const [members, sessions] = await Promise.all([
      this.sources.clusterStatus(timeoutMs).catch((error: unknown) => {
        this.log.warn({ err: error }, 'dashboard: member probe failed');
        return null;
      }),
      this.sources.leaderSessions(timeoutMs).catch(() => null),
    ]);
    const now = this.sources.nowMs();
    if (members !== null) {
      for (const m of members) if (m.reachable) this.lastContactMs.set(m.id, now);
      if (JSON.stringify(members) !== JSON.stringify(this.members)) this.markDirty('cluster', 'node');
      this.members = members;
      this.probedAtMs = now;
    }
    const next: SessionsSection =
      sessions === null ? { from: 'unavailable', atMs: now, workers: {} } : { from: sessions.from, atMs: now, workers: Object.fromEntries(sessions.byWorker) };
    if (next.from !== this.sessions.from || JSON.stringify(next.workers) !== JSON.stringify(this.sessions.workers)) this.markDirty('sessions');
    this.sessions = next;
  }
}

/** Count, median, 99th percentile and longest of durations (ms, rounded to 0.01); zeros when there are none. */
function durationStats(samplesMs: number[]): { count: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = samplesMs.sort((a, b) => a - b);
  const at = (q: number): number => (sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 100) / 100);
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}
