import type { WorkerView } from './types.js';

/**
 * How much of a worker's capacity the scheduler uses now, as recovery weighs
 * it: every slot; a few probe attempts (half-open); one attempt at a time (an
 * outlier, or open past the ejection cap); one at a time and spaced (failing
 * now: paced); every slot but no prefetch and no tail work while faster
 * slots free in time (slow: its attempts take far longer than its peers');
 * none (ejected, quarantined, resetting, draining or lost).
 */
export type WorkerService = 'full' | 'slow' | 'probing' | 'one-at-a-time' | 'paced' | 'out';

export interface WorkerServiceView {
  readonly service: WorkerService;
  /** Which rule, with its numbers ('' when full). */
  readonly reason: string;
}

/**
 * A worker as the replicated state describes it, flattened for the wire: the
 * Runs service's `WorkerInfo` (which adds the leader's session facts) and the
 * dashboard's worker row are both this record, built by one function.
 */
export interface WorkerRecord {
  readonly workerId: string;
  readonly name: string;
  readonly state: WorkerView['state'];
  readonly slots: number;
  readonly running: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly tools: readonly string[];
  readonly httpAddress: string;
  readonly registeredAtMs: number;
  /** closed | open | half-open | forced-open (quarantined) | disabled */
  readonly breakerState: string;
  readonly breakerReason: string;
  /** When the breaker entered its state (the proposing leader's clock). */
  readonly breakerSinceMs: number;
  /** Cleaning its work dir and rerunning setup (recovery level 3). */
  readonly resetting: boolean;
}

export function workerRecord(w: WorkerView): WorkerRecord {
  return {
    workerId: w.workerId,
    name: w.name,
    state: w.state,
    slots: w.slots,
    running: w.running,
    labels: w.capabilities.labels,
    cpus: w.capabilities.cpus,
    memoryMb: w.capabilities.memoryMb,
    tools: w.capabilities.tools,
    httpAddress: w.httpAddress,
    registeredAtMs: w.registeredAtMs,
    breakerState: w.breaker.state,
    breakerReason: w.breaker.reason,
    breakerSinceMs: w.breaker.sinceMs,
    resetting: w.resetting,
  };
}
