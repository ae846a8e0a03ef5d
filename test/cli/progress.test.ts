import { afterEach, describe, expect, it, vi } from 'vitest';
import { BAR_MAX, ProgressReporter, formatBar, formatElapsed, formatProgressLine } from '../../src/cli/progress.js';
import type { RunCounts, RunSummary } from '../../src/model/types.js';

const CLEAR = '\r\x1b[K';

function summary(counts: Partial<RunCounts>, state: RunSummary['state'] = 'running'): RunSummary {
  return {
    degraded: false,
    runId: 'r-1',
    name: 'demo',
    state,
    submittedAtMs: 1_000,
    finishedAtMs: state === 'running' ? 0 : 2_000,
    counts: { tasks: 0, queued: 0, running: 0, passed: 0, failed: 0, cancelled: 0, failedInfra: 0, ...counts },
  };
}

const midway = summary({ tasks: 40, passed: 10, failed: 1, running: 3, queued: 26 });

describe('formatBar', () => {
  it('fills in proportion, rounding down', () => {
    expect(formatBar(12, 40, 10)).toBe('[###-------]');
    expect(formatBar(0, 40, 10)).toBe('[----------]');
    expect(formatBar(40, 40, 10)).toBe('[##########]');
    expect(formatBar(39, 40, 10)).toBe('[#########-]');
  });
  it('is full for a run without tasks and clamps odd inputs', () => {
    expect(formatBar(0, 0, 5)).toBe('[#####]');
    expect(formatBar(50, 40, 4)).toBe('[####]');
    expect(formatBar(-1, 40, 4)).toBe('[----]');
    expect(formatBar(1, 2, 0)).toBe('[]');
  });
});

describe('formatElapsed', () => {
  it('prints mm:ss, and h:mm:ss past an hour', () => {
    expect(formatElapsed(0)).toBe('00:00');
    expect(formatElapsed(12_900)).toBe('00:12');
    expect(formatElapsed(754_000)).toBe('12:34');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
    expect(formatElapsed(-5)).toBe('00:00');
  });
});

describe('formatProgressLine', () => {
  it('plain form: every count, no bar, no clock', () => {
    expect(formatProgressLine(midway, { tty: false, width: 20, elapsedMs: 12_000 })).toBe(
      'progress: 11/40 tasks done (passed 10, failed 1, infra 0, cancelled 0), running 3, queued 26',
    );
    expect(formatProgressLine(summary({ tasks: 5, passed: 2, failedInfra: 1, cancelled: 2 }), { tty: false, width: 80, elapsedMs: 0 })).toBe(
      'progress: 5/5 tasks done (passed 2, failed 0, infra 1, cancelled 2), running 0, queued 0',
    );
  });

  it('TTY form: a bar sized to the width, the counts and the clock', () => {
    const line = formatProgressLine(midway, { tty: true, width: 80, elapsedMs: 12_000 });
    const text = '11/40 tasks  passed 10 failed 1 running 3 queued 26  00:12';
    expect(line.endsWith(` ${text}`)).toBe(true);
    expect(line.length).toBe(79);
    const bar = line.slice(0, line.length - text.length - 1);
    expect(bar).toMatch(/^\[#+-+\]$/);
    expect(bar.length - 2).toBe(79 - text.length - 3);
  });

  it('TTY form: the bar is capped on wide terminals', () => {
    const line = formatProgressLine(midway, { tty: true, width: 300, elapsedMs: 12_000 });
    expect(line).toBe(`${formatBar(11, 40, BAR_MAX)} 11/40 tasks  passed 10 failed 1 running 3 queued 26  00:12`);
  });

  it('TTY form: the bar goes on narrow terminals and the line is cut to fit', () => {
    const text = '11/40 tasks  passed 10 failed 1 running 3 queued 26  00:12';
    expect(formatProgressLine(midway, { tty: true, width: text.length + 5, elapsedMs: 12_000 })).toBe(text);
    const cut = formatProgressLine(midway, { tty: true, width: 30, elapsedMs: 12_000 });
    expect(cut).toBe(text.slice(0, 29));
  });

  it('TTY form: infra and cancelled appear only when non-zero', () => {
    const line = formatProgressLine(summary({ tasks: 4, passed: 1, failedInfra: 1, cancelled: 2 }), { tty: true, width: 200, elapsedMs: 65_000 });
    expect(line).toContain('4/4 tasks  passed 1 failed 0 infra 1 cancelled 2 running 0 queued 0  01:05');
    expect(line.startsWith(`[${'#'.repeat(BAR_MAX)}]`)).toBe(true);
  });

  it('handles a run with no tasks and a finished run', () => {
    expect(formatProgressLine(summary({}), { tty: false, width: 80, elapsedMs: 0 })).toBe(
      'progress: 0/0 tasks done (passed 0, failed 0, infra 0, cancelled 0), running 0, queued 0',
    );
    expect(formatProgressLine(summary({}), { tty: true, width: 80, elapsedMs: 0 })).toBe(
      `[${'#'.repeat(79 - 3 - '0/0 tasks  passed 0 failed 0 running 0 queued 0  00:00'.length)}] 0/0 tasks  passed 0 failed 0 running 0 queued 0  00:00`,
    );
    const done = formatProgressLine(summary({ tasks: 40, passed: 40 }, 'passed'), { tty: true, width: 100, elapsedMs: 1000 });
    expect(done).toMatch(/^\[#+\] 40\/40 tasks {2}passed 40 failed 0 running 0 queued 0 {2}00:01$/);
  });
});

describe('ProgressReporter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('plain: prints changes at most once per interval, a pending change later, and the final line', () => {
    vi.useFakeTimers();
    let now = 0;
    const out: string[] = [];
    const reporter = new ProgressReporter({ tty: false, write: (t) => out.push(t), now: () => now, minIntervalMs: 2000 });
    reporter.update(summary({ tasks: 4, queued: 4 }));
    reporter.update(summary({ tasks: 4, queued: 4 })); // unchanged: nothing
    now = 500;
    reporter.update(summary({ tasks: 4, queued: 3, running: 1 })); // throttled
    now = 1000;
    reporter.update(summary({ tasks: 4, queued: 2, running: 2 })); // throttled; replaces the pending one
    expect(out).toHaveLength(1);
    now = 2000;
    vi.advanceTimersByTime(1499); // the timer was set at 500 for the rest of the interval
    expect(out).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(out).toHaveLength(2);
    expect(out[1]).toBe('progress: 0/4 tasks done (passed 0, failed 0, infra 0, cancelled 0), running 2, queued 2\n');
    now = 2100;
    reporter.update(summary({ tasks: 4, passed: 4 }, 'passed'));
    reporter.finish();
    expect(out).toHaveLength(3);
    expect(out[2]).toBe('progress: 4/4 tasks done (passed 4, failed 0, infra 0, cancelled 0), running 0, queued 0\n');
    reporter.finish();
    vi.advanceTimersByTime(10_000);
    expect(out).toHaveLength(3);
  });

  it('plain: the final line is not repeated', () => {
    const out: string[] = [];
    const reporter = new ProgressReporter({ tty: false, write: (t) => out.push(t), now: () => 0 });
    reporter.update(summary({ tasks: 1, passed: 1 }, 'passed'));
    reporter.finish();
    expect(out).toEqual(['progress: 1/1 tasks done (passed 1, failed 0, infra 0, cancelled 0), running 0, queued 0\n']);
  });

  it('TTY: redraws one line in place, notes go above it, finish ends the line', () => {
    const out: string[] = [];
    let now = 10_000;
    const reporter = new ProgressReporter({ tty: true, write: (t) => out.push(t), now: () => now, startedAtMs: 10_000, columns: () => 100, tickMs: 0 });
    reporter.update(summary({ tasks: 2, queued: 2 }));
    now = 13_000;
    reporter.update(summary({ tasks: 2, passed: 1, running: 1 }));
    reporter.note('cancelling');
    reporter.finish(summary({ tasks: 2, passed: 2 }, 'passed'));
    const shown = out.map((t) => t.replaceAll(CLEAR, '<CL>'));
    expect(shown[0]).toMatch(/^<CL>\[-+\] 0\/2 tasks {2}passed 0 failed 0 running 0 queued 2 {2}00:00$/);
    expect(shown[1]).toMatch(/^<CL>\[#+-+\] 1\/2 tasks .* 00:03$/);
    expect(out[2]).toBe('\r\x1b[Kcancelling\n');
    expect(shown[3]).toMatch(/^<CL>\[#+-+\] 1\/2 tasks/);
    expect(shown[4]).toMatch(/^<CL>\[#+\] 2\/2 tasks/);
    expect(out[5]).toBe('\n');
    expect(out).toHaveLength(6);
  });

  it('TTY: the clock ticks while nothing changes, until finish', () => {
    vi.useFakeTimers();
    const out: string[] = [];
    let now = 0;
    const reporter = new ProgressReporter({ tty: true, write: (t) => out.push(t), now: () => now, startedAtMs: 0, columns: () => 100, tickMs: 1000 });
    reporter.update(summary({ tasks: 1, running: 1 }));
    now = 1000;
    vi.advanceTimersByTime(1000);
    expect(out.at(-1)).toMatch(/00:01$/);
    reporter.finish();
    const count = out.length;
    vi.advanceTimersByTime(5000);
    expect(out).toHaveLength(count);
  });
});
