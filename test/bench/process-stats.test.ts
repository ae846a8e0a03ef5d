import { describe, expect, it } from 'vitest';

import { clockTicksPerSecond, loopReading, parseMachineBusySeconds, readMachineBusySeconds, parseMetricSamples, parseProcStatCpuSeconds, parseProcStatName, quantileBetween, readProcessCpuSeconds, readThreadCpuSeconds } from '../../src/bench/process-stats.js';
import { loopLagProbeIntervalMs, NodeMetrics } from '../../src/coordinator/metrics.js';

/** Keeps the event loop busy for `ms` (the lag probe must see it). */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, attemptsMax = 200): Promise<T> {
  for (let i = 0; i < attemptsMax; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`condition not met after ${attemptsMax} polls`);
}

describe('CPU time from /proc/<pid>/stat', () => {
  it('counts fields after the last parenthesis, whatever the command name holds', () => {
    const stat = '4242 (node ) (x) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 11 0 100 0 0';
    expect(parseProcStatCpuSeconds(stat, 100)).toBe(3);
    expect(parseProcStatCpuSeconds(stat, 1000)).toBe(0.3);
    expect(parseProcStatName(stat)).toBe('node ) (x) 1');
  });

  it('splits this process by thread: the main thread is named main, and the threads sum to no more than the process', async () => {
    const threads = await readThreadCpuSeconds(process.pid);
    expect(threads.has('main')).toBe(true);
    const sum = [...threads.values()].reduce((a, b) => a + b, 0);
    const whole = await readProcessCpuSeconds(process.pid);
    expect(sum).toBeLessThanOrEqual(whole + 0.01 * threads.size + 0.01);
  });

  it("sums the machine's busy time: user, nice, system, irq, softirq and steal, not idle or iowait", async () => {
    const stat = 'cpu  100 20 300 9000 700 11 13 17 0 0\ncpu0 50 10 150 4500 350 5 6 8 0 0\nintr 1 2 3\n';
    expect(parseMachineBusySeconds(stat, 100)).toBeCloseTo(4.61, 9);
    expect(() => parseMachineBusySeconds('intr 1 2 3\n', 100)).toThrow(/no "cpu" line/);
    const before = await readMachineBusySeconds();
    blockLoop(60);
    expect(await readMachineBusySeconds()).toBeGreaterThanOrEqual(before + 0.03);
  });

  it('refuses a line that is not a stat line', () => {
    expect(() => parseProcStatCpuSeconds('no parenthesis here', 100)).toThrow(/not a \/proc/);
    expect(() => parseProcStatCpuSeconds('1 (x) S 1 2', 100)).toThrow(/no utime/);
  });

  it('reads this process: bounded by the CPU Node itself reports, and growing with work', async () => {
    const before = await readProcessCpuSeconds(process.pid);
    const usage = process.cpuUsage();
    const ownSeconds = (usage.user + usage.system) / 1e6;
    // /proc counts in clock ticks, Node in µs: they differ by at most a tick or two per thread.
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThanOrEqual(ownSeconds + 1);
    blockLoop(3 * (1000 / clockTicksPerSecond()));
    const after = await pollUntil(() => readProcessCpuSeconds(process.pid), (s) => s > before);
    expect(after).toBeGreaterThan(before);
  });
});

describe('quantiles between two readings of a histogram', () => {
  const bounds = [0.001, 0.002, 0.004, Infinity];
  const reading = (counts: number[]): Map<number, number> => new Map(bounds.map((le, i) => [le, counts[i]!]));

  it('interpolates within the bucket, over the observations made between the readings only', () => {
    const before = reading([100, 100, 100, 100]);
    // Between the readings: 50 in (0, 1 ms], 40 in (1, 2], 10 in (2, 4].
    const after = reading([150, 190, 200, 200]);
    expect(quantileBetween(before, after, 0.5)).toBeCloseTo(0.001, 9);
    expect(quantileBetween(before, after, 0.7)).toBeCloseTo(0.0015, 9);
    expect(quantileBetween(before, after, 0.95)).toBeCloseTo(0.003, 9);
    expect(quantileBetween(before, after, 0.99)).toBeLessThanOrEqual(0.004);
  });

  it('reports the last finite bound for observations above it, and 0 when nothing was observed', () => {
    expect(quantileBetween(reading([0, 0, 0, 0]), reading([0, 0, 0, 5]), 0.99)).toBe(0.004);
    expect(quantileBetween(reading([3, 3, 3, 3]), reading([3, 3, 3, 3]), 0.99)).toBe(0);
  });

  it('refuses readings that are not cumulative (a restarted process, mixed-up readings)', () => {
    expect(() => quantileBetween(reading([10, 10, 10, 10]), reading([5, 10, 10, 10]), 0.5)).toThrow(/not cumulative/);
    expect(() => quantileBetween(reading([0, 0, 0, 0]), reading([5, 4, 6, 6]), 0.5)).toThrow(/not cumulative/);
  });
});

describe('the coordinator lag probe, read back as the bench reads it', () => {
  it('parses samples with and without labels, and refuses a malformed line', () => {
    const samples = parseMetricSamples('# HELP x y\nx_total 3\ny{le="+Inf",node="n1"} 7\n');
    expect(samples).toEqual([
      { name: 'x_total', labels: {}, value: 3 },
      { name: 'y', labels: { le: '+Inf', node: 'n1' }, value: 7 },
    ]);
    expect(() => parseMetricSamples('{}} 3')).toThrow(/not a metric sample/);
    expect(() => loopReading(samples)).toThrow(/no testudo_event_loop_lag_seconds/);
  });

  it('a blocked event loop shows in the histogram and in the max gauge', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1' });
    const stop = metrics.startLoopLagMonitor();
    try {
      const read = async () => loopReading(parseMetricSamples(await metrics.metricsText()));
      const first = await pollUntil(read, (r) => (r.lagBuckets.get(Infinity) ?? 0) >= 1);
      const blockedMs = 60;
      blockLoop(blockedMs);
      // The probe due during the block runs at least (blockedMs - one period) late.
      const lateS = (blockedMs - loopLagProbeIntervalMs) / 1000;
      const second = await pollUntil(read, (r) => r.lagMaxSeconds >= lateS);
      expect(second.lagMaxSeconds).toBeGreaterThanOrEqual(lateS);
      expect(quantileBetween(first.lagBuckets, second.lagBuckets, 1)).toBeGreaterThanOrEqual(lateS * 0.5);
      expect(second.gcSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      stop();
    }
  });

  it('reads the elections a coordinator saw: new leaders and its term', async () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
    metrics.observeLoopLag(0.001);
    const read = async () => loopReading(parseMetricSamples(await metrics.metricsText()));
    const before = await read();
    metrics.setRaftState({ term: 3, commitIndex: 5, appliedIndex: 5, leaderId: 'n2' });
    metrics.setRaftState({ term: 4, commitIndex: 6, appliedIndex: 6, leaderId: 'n3' });
    const after = await read();
    expect(after.term).toBe(4);
    expect(after.leaderChangesSeen - before.leaderChangesSeen).toBe(2);
  });

  it('refuses a negative or non-finite lag', () => {
    const metrics = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
    expect(() => metrics.observeLoopLag(-0.001)).toThrow(RangeError);
    expect(() => metrics.observeLoopLag(Number.NaN)).toThrow(RangeError);
  });
});
