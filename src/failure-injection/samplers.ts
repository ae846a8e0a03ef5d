/**
 * What the chaos harness samples while a scenario runs: the coordinators'
 * /status (terms, leaders, applied indexes, digests), the CPU time and
 * resident memory of every coordinator and worker process (from /proc), and
 * the times at which the client's probe writes commit. Each sampler is a
 * bounded loop that stops when asked.
 */
import { readFile } from 'node:fs/promises';
import type { TestudoClient } from '../client/index.js';
import { fetchStatus, type NodeStatus } from './observer.js';

/** Most samples a sampler keeps (at 4 per second: over an hour). */
export const samplesMax = 20_000;

/** Runs `step` every `intervalMs` until stopped; one step at a time. */
class Loop {
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly done: Promise<void>;

  constructor(intervalMs: number, step: () => Promise<void>) {
    this.done = (async () => {
      while (!this.stopped) {
        await step().catch(() => undefined);
        if (this.stopped) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done;
  }
}

export interface StatusSample extends NodeStatus {
  readonly atMs: number;
}

/** Polls every coordinator's /status. */
export class StatusPoller {
  readonly samples: StatusSample[] = [];
  private readonly loop: Loop;

  constructor(httpAddresses: () => ReadonlyMap<string, string>, intervalMs = 250) {
    this.loop = new Loop(intervalMs, async () => {
      const entries = [...httpAddresses()];
      const answers = await Promise.all(entries.map(([, address]) => fetchStatus(address)));
      const atMs = Date.now();
      answers.forEach((s, i) => {
        if (s !== null && this.samples.length < samplesMax) this.samples.push({ ...s, id: s.id || entries[i]![0], atMs });
      });
    });
  }

  /** The highest term seen so far. */
  maxTerm(): number {
    return this.samples.reduce((max, s) => Math.max(max, s.term), 0);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const userHz = 100;

/** CPU seconds and resident bytes of one process, or null when it is gone. */
export async function processStats(pid: number): Promise<{ cpuSeconds: number; rssBytes: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / userHz;
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpuSeconds, rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 };
  } catch {
    return null;
  }
}

/** Sums CPU time and resident memory over the cluster's processes, across restarts. */
export class ProcessSampler {
  private readonly cpuByPid = new Map<number, number>();
  peakRssBytes = 0;
  private readonly loop: Loop;

  constructor(pids: () => readonly number[], intervalMs = 500) {
    this.loop = new Loop(intervalMs, async () => {
      let rss = 0;
      for (const pid of pids()) {
        const s = await processStats(pid);
        if (s === null) continue;
        this.cpuByPid.set(pid, s.cpuSeconds);
        rss += s.rssBytes;
      }
      this.peakRssBytes = Math.max(this.peakRssBytes, rss);
    });
  }

  /** CPU seconds of every process seen (a killed process counts up to its last sample). */
  get cpuSeconds(): number {
    let sum = 0;
    for (const v of this.cpuByPid.values()) sum += v;
    return sum;
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}

/** Writes a key through the client's (proxied) link over and over; records when each write committed. */
export class WriteProber {
  readonly committedAtMs: number[] = [];
  private readonly loop: Loop;
  private n = 0;

  constructor(client: TestudoClient, intervalMs = 200) {
    this.loop = new Loop(intervalMs, async () => {
      this.n++;
      await client.put(`chaos/probe`, String(this.n));
      if (this.committedAtMs.length < samplesMax) this.committedAtMs.push(Date.now());
    });
  }

  /** The first commit at or after `atMs`, or null. */
  firstAfter(atMs: number): number | null {
    return this.committedAtMs.find((t) => t >= atMs) ?? null;
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
