import { ackingFollowerSave, phaseStats, traceField, type PhaseStats, type TraceEvent } from './dispatch-trace.js';

/**
 * Where a one-client write's time goes, from the event traces of the load
 * process and the coordinators (`testudo bench raft --clients 1
 * --trace-dir`; src/common/trace.ts). Each timed write, from the client's
 * call to its answer, is cut at events of the client, the leader and the
 * follower that acknowledged first (docs/bench/dispatch-trace.md, "A
 * write"):
 *
 * - request: the client's call → the leader's Put handler (the client's
 *   encoding, HTTP/2 both ways of the wire, the server's decoding and
 *   checks);
 * - propose: → the leader's Ready holding the entry;
 * - replicate: → the first follower's acknowledgement of it on the leader
 *   (`followerSave`: that follower's storage write, inside it);
 * - commit: → the leader's Ready that commits it;
 * - apply: → the Put handler's answer (the apply, the proposal settled);
 * - response: → the client holding the answer.
 *
 * These six add up to `total`. Writes run one after another, so each
 * call's events lie between its call and its answer. Inside `request`,
 * `clientSend` is the client's own part (its call → its gRPC call handed
 * to the channel, `rpc.sent`); inside `response`, `clientReceive` is the
 * client's own part (the call's status, `rpc.status`, → the answer held),
 * and `trailers` the wait from the response message to the status that
 * follows it (`rpc.message` → `rpc.status`).
 */
export const commitTracePhases = ['request', 'clientSend', 'propose', 'replicate', 'followerSave', 'commit', 'apply', 'response', 'trailers', 'clientReceive', 'total'] as const;
export type CommitTracePhase = (typeof commitTracePhases)[number];

export interface CommitTraceSummary {
  /** Timed writes whose every phase was found in the traces. */
  readonly matched: number;
  /** Timed writes with an event missing. */
  readonly unmatched: number;
  readonly phasesMs: Readonly<Record<CommitTracePhase, PhaseStats>>;
}

/**
 * Cuts every timed write (the client's calls after its last `client.timed`)
 * into phases. `coordinatorPids` maps each coordinator's node id to its pid.
 */
export function summarizeCommitTrace(events: readonly TraceEvent[], coordinatorPids: ReadonlyMap<string, number>): CommitTraceSummary {
  let timed = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i]!.event === 'client.timed') {
      timed = i;
      break;
    }
  }
  const found: Record<CommitTracePhase, number>[] = [];
  let unmatched = 0;
  if (timed === -1) return { matched: 0, unmatched: 0, phasesMs: phaseStats(found, commitTracePhases) };
  const clientPid = events[timed]!.pid;
  for (let i = timed + 1; i < events.length; i++) {
    const call = events[i]!;
    if (call.pid !== clientPid || call.event !== 'client.call') continue;
    const phases = writePhases(events, i, coordinatorPids);
    if (phases === null) unmatched++;
    else found.push(phases);
  }
  return { matched: found.length, unmatched, phasesMs: phaseStats(found, commitTracePhases) };
}

/** The phases of the write whose `client.call` is events[from], or null when an event is missing. */
export function writePhases(events: readonly TraceEvent[], from: number, coordinatorPids: ReadonlyMap<string, number>): Record<CommitTracePhase, number> | null {
  const call = events[from]!;
  const key = traceField(call.detail, 'key');
  const sameKey = (e: TraceEvent): boolean => traceField(e.detail, 'key') === key;
  let to = -1;
  for (let k = from + 1; k < events.length; k++) {
    const e = events[k]!;
    if (e.pid !== call.pid) continue;
    if (e.event === 'client.call') return null;
    if (e.event === 'client.done' && sameKey(e)) {
      to = k;
      break;
    }
  }
  if (to === -1) return null;
  const forward = (i: number, test: (e: TraceEvent) => boolean): number => {
    for (let k = i; k < to; k++) if (test(events[k]!)) return k;
    return -1;
  };
  const put = forward(from + 1, (e) => e.event === 'kv.put' && sameKey(e));
  if (put === -1) return null;
  const leaderPid = events[put]!.pid;
  const on = (event: string) => (e: TraceEvent): boolean => e.pid === leaderPid && e.event === event;
  const ready = forward(put + 1, (e) => on('raft.ready')(e) && (traceField(e.detail, 'entries') ?? '-') !== '-');
  if (ready === -1) return null;
  const entry = Number((traceField(events[ready]!.detail, 'entries') ?? '').split('-')[1]);
  const ack = forward(ready + 1, (e) => on('raft.recv')(e) && e.detail.startsWith('AppResp ') && Number(traceField(e.detail, 'index')) >= entry);
  if (ack === -1) return null;
  const commit = forward(ack + 1, (e) => on('raft.ready')(e) && Number(traceField(e.detail, 'commit')) >= entry);
  if (commit === -1) return null;
  const reply = forward(commit + 1, (e) => on('kv.reply')(e) && sameKey(e));
  if (reply === -1) return null;
  const save = ackingFollowerSave(events, ready, ack, coordinatorPids);
  if (save === -1) return null;
  const onClient = (event: string) => (e: TraceEvent): boolean => e.pid === call.pid && e.event === event;
  const sent = forward(from + 1, onClient('rpc.sent'));
  const message = forward(reply + 1, onClient('rpc.message'));
  const status = forward(reply + 1, onClient('rpc.status'));
  if (sent === -1 || sent > put || message === -1 || status === -1) return null;
  const at = (i: number): number => events[i]!.atMs;
  return {
    request: at(put) - at(from),
    clientSend: at(sent) - at(from),
    propose: at(ready) - at(put),
    replicate: at(ack) - at(ready),
    followerSave: Number(traceField(events[save]!.detail, 'ms')),
    commit: at(commit) - at(ack),
    apply: at(reply) - at(commit),
    response: at(to) - at(reply),
    trailers: at(status) - at(message),
    clientReceive: at(to) - at(status),
    total: at(to) - at(from),
  };
}
