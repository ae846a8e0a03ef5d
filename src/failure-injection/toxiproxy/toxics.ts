/**
 * Toxics of the Toxiproxy-compatible fault proxy.
 *
 * Each connection through a proxy has two links (upstream: client → server,
 * downstream: server → client). A link is a pipeline of {@link ToxicStage}s,
 * one per toxic on that stream, in the order the toxics were added. Data read
 * from the link's source enters the first stage; whatever the last stage emits
 * is written to the link's destination. `null` stands for end of stream (EOF).
 *
 * The behaviour of every toxic follows Toxiproxy 2.12 (Shopify/toxiproxy,
 * toxics/*.go); see docs/toxiproxy.md for the few deliberate differences.
 */

import { createPrng, type UniformRandom } from '../../common/rand.js';

/** The stream a toxic applies to. */
export type Direction = 'upstream' | 'downstream';

/** Toxic types this server implements. */
export const TOXIC_TYPES = [
  'latency',
  'bandwidth',
  'slow_close',
  'timeout',
  'reset_peer',
  'slicer',
  'limit_data',
] as const;

export type ToxicType = (typeof TOXIC_TYPES)[number];

/**
 * Attributes of each toxic type, in the order Toxiproxy serialises them. All
 * are integers (Go int64 / int); missing ones are 0.
 */
export const TOXIC_ATTRIBUTES: Readonly<Record<ToxicType, readonly string[]>> = {
  latency: ['latency', 'jitter'],
  bandwidth: ['rate'],
  slow_close: ['delay'],
  timeout: ['timeout'],
  reset_peer: ['timeout'],
  slicer: ['average_size', 'size_variation', 'delay'],
  limit_data: ['bytes'],
};

/** Go struct names used in Toxiproxy's decoding error messages. */
export const TOXIC_GO_TYPES: Readonly<Record<ToxicType, string>> = {
  latency: 'LatencyToxic',
  bandwidth: 'BandwidthToxic',
  slow_close: 'SlowCloseToxic',
  timeout: 'TimeoutToxic',
  reset_peer: 'ResetToxic',
  slicer: 'SlicerToxic',
  limit_data: 'LimitDataToxic',
};

export function isToxicType(type: string): type is ToxicType {
  return (TOXIC_TYPES as readonly string[]).includes(type);
}

/** A toxic as the API shows it. */
export interface ToxicSpec {
  name: string;
  type: ToxicType;
  stream: Direction;
  toxicity: number;
  attributes: Record<string, number>;
}

/** A source of uniform random numbers in [0, 1) (src/common/rand.ts). */
export type Rng = UniformRandom;

// Re-exported for the proxy's users; the generator itself lives in src/common/rand.ts.
export { createPrng };

/** A piece of stream data with the time (ms since epoch) it was read. */
export interface Chunk {
  data: Buffer;
  t: number;
}

/** What a stage needs from the link that owns it. */
export interface StageHost {
  /** Passes a chunk (or EOF) on to whatever follows the stage. */
  forward(stage: ToxicStage, chunk: Chunk | null): void;
  /** Closes both sockets of the connection with a TCP reset. */
  reset(): void;
  /** Called whenever queued byte counts change (for back-pressure). */
  changed(): void;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function attr(spec: ToxicSpec, key: string): number {
  return spec.attributes[key] ?? 0;
}

/**
 * Offsets cutting `[start, end)` into slices of about `average` ± `variation`
 * bytes, as pairs `[s0, e0, s1, e1, …]` (Toxiproxy's slicer algorithm).
 */
export function sliceOffsets(
  start: number,
  end: number,
  average: number,
  variation: number,
  rng: Rng,
): number[] {
  const avg = Math.max(1, average);
  const vari = Math.max(0, variation);
  const out: number[] = [];
  const stack: Array<[number, number]> = [[start, end]];
  while (stack.length > 0) {
    const range = stack.pop();
    if (!range) break;
    const [s, e] = range;
    if (e - s - avg <= vari || e - s < 2) {
      out.push(s, e);
      continue;
    }
    let mid = s + Math.floor((e - s) / 2);
    if (vari > 0) mid += Math.floor(rng() * vari * 2) - vari;
    mid = Math.min(e - 1, Math.max(s + 1, mid));
    // Right half pushed first so the left half is emitted first.
    stack.push([mid, e], [s, mid]);
  }
  return out;
}

/**
 * One toxic running on one link. Processes its input queue in order; can be
 * updated (new attributes, new toxicity draw) or removed while data flows.
 */
export class ToxicStage {
  spec: ToxicSpec;
  /** Whether the toxic applies on this link (the toxicity draw). */
  active: boolean;
  /** Bytes waiting in the queue plus the chunk being processed. */
  pendingBytes = 0;

  private queue: Array<Chunk | null> = [];
  private running = false;
  private interrupt = new AbortController();
  /** EOF was passed on (or the stage closed the link): input is dropped. */
  private closed = false;
  private removing = false;
  private disposed = false;
  private onDrained: (() => void) | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  // Per-link state that survives updates, as in Toxiproxy.
  private limitSent = 0;
  private bandwidthDebt = 0;

  constructor(
    spec: ToxicSpec,
    private readonly host: StageHost,
    private readonly rng: Rng,
  ) {
    this.spec = spec;
    this.active = this.draw();
    this.armTimeout();
  }

  get name(): string {
    return this.spec.name;
  }

  /** Queues a chunk (or EOF) for this stage. */
  push(chunk: Chunk | null): void {
    if (this.disposed) return;
    if (this.closed) return; // data after a close is dropped
    this.queue.push(chunk);
    if (chunk) this.pendingBytes += chunk.data.length;
    if (!this.running) void this.loop();
  }

  /** Applies new attributes/toxicity; the toxicity is drawn again. */
  update(spec: ToxicSpec): void {
    this.spec = spec;
    this.active = this.draw();
    this.interruptNow();
    this.armTimeout();
    if (!this.running && this.queue.length > 0) void this.loop();
  }

  /**
   * Removes the toxic from the link: queued data passes through untouched.
   * Resolves once the stage holds no data and can be unlinked. Removing a
   * timeout toxic closes the connection (Toxiproxy's Cleanup).
   */
  remove(): Promise<void> {
    this.removing = true;
    this.clearTimeoutTimer();
    this.interruptNow();
    if (this.spec.type === 'timeout' && this.active && !this.closed) this.close();
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  /** Stops timers and drops everything (the connection is gone). */
  dispose(): void {
    this.disposed = true;
    this.clearTimeoutTimer();
    this.interruptNow();
    this.queue = [];
    this.pendingBytes = 0;
  }

  private draw(): boolean {
    const toxicity = this.spec.toxicity;
    if (toxicity >= 1) return true;
    if (toxicity <= 0) return false;
    return this.rng() < toxicity;
  }

  private interruptNow(): void {
    this.interrupt.abort();
    this.interrupt = new AbortController();
  }

  private emit(chunk: Chunk | null): void {
    if (this.disposed) return;
    this.host.forward(this, chunk);
  }

  /** Passes EOF on and drops any further input, as Toxiproxy closes a toxic. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimeoutTimer();
    this.emit(null);
  }

  private clearTimeoutTimer(): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
  }

  /** The timeout toxic closes the link after `timeout` ms without input. */
  private armTimeout(): void {
    this.clearTimeoutTimer();
    if (this.spec.type !== 'timeout' || !this.active || this.closed || this.removing) return;
    const ms = attr(this.spec, 'timeout');
    if (ms > 0) {
      this.timeoutTimer = setTimeout(() => this.close(), ms);
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed && !this.disposed) {
        const chunk = this.queue.shift() ?? null;
        if (this.removing || !this.active) {
          this.pendingBytes -= chunk ? chunk.data.length : 0;
          if (chunk) this.emit(chunk);
          else this.close();
          continue;
        }
        if (chunk === null) {
          await this.processEnd();
        } else {
          await this.process(chunk);
          this.pendingBytes -= chunk.data.length;
        }
        this.host.changed();
      }
      if (this.closed || this.disposed) {
        this.queue = [];
        this.pendingBytes = 0;
      }
    } finally {
      this.running = false;
      this.host.changed();
      if (this.onDrained) {
        const done = this.onDrained;
        this.onDrained = undefined;
        done();
      }
    }
  }

  private async processEnd(): Promise<void> {
    if (this.spec.type === 'slow_close') {
      await sleep(attr(this.spec, 'delay'), this.interrupt.signal);
    } else if (this.spec.type === 'reset_peer') {
      await this.resetAfterTimeout();
      return;
    }
    this.close();
  }

  private async resetAfterTimeout(): Promise<void> {
    const done = await sleep(attr(this.spec, 'timeout'), this.interrupt.signal);
    if (done && !this.disposed) {
      this.closed = true;
      this.host.reset();
    }
  }

  private async process(chunk: Chunk): Promise<void> {
    const signal = this.interrupt.signal;
    const spec = this.spec;
    switch (spec.type) {
      case 'latency': {
        let delay = attr(spec, 'latency');
        const jitter = attr(spec, 'jitter');
        if (jitter > 0) delay += Math.floor(this.rng() * jitter * 2) - jitter;
        await sleep(chunk.t + delay - Date.now(), signal);
        // Interrupted or not, never drop data.
        this.emit({ data: chunk.data, t: chunk.t + Math.max(0, delay) });
        return;
      }
      case 'bandwidth': {
        const rate = attr(spec, 'rate'); // KB/s == bytes/ms
        let data = chunk.data;
        if (rate <= 0) {
          this.bandwidthDebt = 0;
          this.emit(chunk);
          return;
        }
        this.bandwidthDebt += data.length / rate;
        const slice = rate * 100; // bytes per 100 ms
        while (data.length > slice) {
          if (!(await sleep(100, signal))) {
            this.emit({ data, t: chunk.t });
            return;
          }
          this.emit({ data: data.subarray(0, slice), t: chunk.t });
          data = data.subarray(slice);
          this.bandwidthDebt -= 100;
        }
        const start = Date.now();
        if (await sleep(this.bandwidthDebt, signal)) {
          this.bandwidthDebt -= Date.now() - start;
        }
        this.emit({ data, t: chunk.t });
        return;
      }
      case 'slow_close':
        this.emit(chunk);
        return;
      case 'timeout':
        // Data is dropped; each chunk restarts the timer (as in Toxiproxy).
        this.armTimeout();
        return;
      case 'reset_peer':
        // The first data (or EOF) starts the countdown; the data is dropped.
        await this.resetAfterTimeout();
        return;
      case 'slicer': {
        const offsets = sliceOffsets(
          0,
          chunk.data.length,
          attr(spec, 'average_size'),
          attr(spec, 'size_variation'),
          this.rng,
        );
        const delayMs = attr(spec, 'delay') / 1000;
        for (let i = 1; i < offsets.length; i += 2) {
          const from = offsets[i - 1] ?? 0;
          const to = offsets[i] ?? chunk.data.length;
          this.emit({ data: chunk.data.subarray(from, to), t: chunk.t });
          if (i + 1 < offsets.length && !(await sleep(delayMs, signal))) {
            this.emit({ data: chunk.data.subarray(to), t: chunk.t });
            return;
          }
        }
        return;
      }
      case 'limit_data': {
        const limit = attr(spec, 'bytes');
        const remaining = Math.max(0, limit - this.limitSent);
        const data = remaining < chunk.data.length ? chunk.data.subarray(0, remaining) : chunk.data;
        if (data.length > 0) {
          this.emit({ data, t: chunk.t });
          this.limitSent += data.length;
        }
        if (limit - this.limitSent <= 0) this.close();
        return;
      }
    }
  }
}
