import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An opt-in event trace for latency work. When the environment variable
 * TESTUDO_TRACE_DIR names a directory, every Testudo process started with it
 * appends one line per event to `trace-<pid>.log` there:
 *
 *   <ms, 3 decimals> <event> <detail>
 *
 * The clock is the machine's monotonic clock (process.hrtime, Linux's
 * CLOCK_MONOTONIC), one clock for every process on the machine, so the
 * lines of different processes line up to the microsecond. (Each process's
 * performance.timeOrigin is its own estimate of the wall clock at its
 * start: two processes' estimates differed by 3 ms here, more than a hop
 * between them takes.) Which events there are, and how `bench schedule
 * --trace-dir` reads them, is in docs/bench/dispatch-trace.md.
 *
 * Without the variable `tracer` is null and a trace point costs one
 * comparison. With it, lines are kept in memory and appended every
 * `traceFlushMs`, when `traceLinesMax` are waiting, and at exit: a few
 * microseconds per event, on the event loop. It is for benchmarks, not for
 * production (the directory grows without bound).
 */
export interface Tracer {
  /** Records `event` (one word) with `detail` (no newline) at the current time. */
  event(event: string, detail: string): void;
  /** Appends what is waiting to the file now. */
  flush(): void;
}

/** Longest a traced line waits in memory before it is appended. */
export const traceFlushMs = 100;
/** Lines kept in memory before an append regardless of the timer. */
export const traceLinesMax = 512;

/** The trace clock: the machine's monotonic clock in milliseconds. */
export function traceNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The trace file of process `pid` in `dir`. */
export function traceFilePath(dir: string, pid: number): string {
  return join(dir, `trace-${pid}.log`);
}

/** A tracer writing to `dir` (created if missing) for this process. */
export function createTracer(dir: string): Tracer {
  mkdirSync(dir, { recursive: true });
  const file = traceFilePath(dir, process.pid);
  let lines: string[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    try {
      appendFileSync(file, text);
    } catch {
      // A trace that cannot be written is dropped: tracing never stops the process.
    }
  };
  process.on('exit', flush);
  return {
    event(event, detail) {
      lines.push(`${traceNowMs().toFixed(3)} ${event} ${detail}\n`);
      if (lines.length >= traceLinesMax) flush();
      else if (timer === null) {
        timer = setTimeout(flush, traceFlushMs);
        timer.unref();
      }
    },
    flush,
  };
}

const dirFromEnv = process.env.TESTUDO_TRACE_DIR;

/** This process's tracer, or null when TESTUDO_TRACE_DIR is unset or empty. */
export const tracer: Tracer | null = dirFromEnv !== undefined && dirFromEnv !== '' ? createTracer(dirFromEnv) : null;
