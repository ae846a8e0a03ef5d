// Live progress of a run while `testudo run` watches it: a redrawn bar on a
// terminal, throttled plain lines elsewhere (CI logs). The formatters are
// pure; ProgressReporter holds the little state the rendering needs.
import type { RunCounts, RunSummary } from '../model/types.js';

export interface ProgressLineOptions {
  /** A terminal: one line with a bar, redrawn in place. Else a plain log line. */
  readonly tty: boolean;
  /** Terminal columns (TTY form only); the line never reaches the last column. */
  readonly width: number;
  /** Time since the run was submitted (TTY form only). */
  readonly elapsedMs: number;
}

/** Bar inner widths: at least this many cells or no bar at all, at most the max. */
export const BAR_MIN = 10;
export const BAR_MAX = 40;

/** Tasks that have ended, whatever the end. */
export function doneTasks(counts: RunCounts): number {
  return counts.passed + counts.failed + counts.failedInfra + counts.cancelled;
}

/** `[####------]`: `inner` cells, filled in proportion to done/total (full when total is 0). */
export function formatBar(done: number, total: number, inner: number): string {
  const cells = Math.max(0, Math.floor(inner));
  const ratio = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.floor(ratio * cells);
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}]`;
}

/** `00:12`, `12:34`, `1:02:03`. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

function ttyCounts(c: RunCounts): string {
  const parts = [`passed ${c.passed}`, `failed ${c.failed}`];
  if (c.failedInfra > 0) parts.push(`infra ${c.failedInfra}`);
  if (c.cancelled > 0) parts.push(`cancelled ${c.cancelled}`);
  parts.push(`running ${c.running}`, `queued ${c.queued}`);
  return parts.join(' ');
}

/**
 * One progress line.
 * TTY: `[#####-----] 12/40 tasks  passed 10 failed 1 running 3 queued 26  00:12`
 * (infra and cancelled appear when non-zero; the bar shrinks to fit `width`
 * and is dropped below BAR_MIN cells; the line is cut to width - 1).
 * Plain: `progress: 12/40 tasks done (passed 10, failed 1, infra 0, cancelled 0), running 3, queued 26`.
 */
export function formatProgressLine(summary: RunSummary, options: ProgressLineOptions): string {
  const c = summary.counts;
  const done = doneTasks(c);
  if (!options.tty) {
    return `progress: ${done}/${c.tasks} tasks done (passed ${c.passed}, failed ${c.failed}, infra ${c.failedInfra}, cancelled ${c.cancelled}), running ${c.running}, queued ${c.queued}`;
  }
  const text = `${done}/${c.tasks} tasks  ${ttyCounts(c)}  ${formatElapsed(options.elapsedMs)}`;
  const room = Math.floor(options.width) - 1; // never write into the last column: some terminals wrap there
  const inner = Math.min(BAR_MAX, room - text.length - 3); // "[" + "]" + " "
  const line = inner >= BAR_MIN ? `${formatBar(done, c.tasks, inner)} ${text}` : text;
  return room > 0 && line.length > room ? line.slice(0, room) : line;
}

export interface ProgressReporterOptions {
  readonly tty: boolean;
  readonly write: (text: string) => void;
  /** Terminal columns now (TTY only; read at each redraw). */
  readonly columns?: () => number;
  readonly now?: () => number;
  /** When the run started, on `now`'s clock (default: construction time). */
  readonly startedAtMs?: number;
  /** Plain lines: at most one per this interval, plus the final one. */
  readonly minIntervalMs?: number;
  /** TTY: redraw this often so the clock moves while nothing changes (0: never). */
  readonly tickMs?: number;
}

const CLEAR_LINE = '\r\x1b[K';

/**
 * Renders summaries as they come. TTY: redraws one line (and ticks the
 * clock). Plain: prints a line when the progress changed, at most one per
 * `minIntervalMs` (a later change is printed when the interval ends), and
 * always the final line at `finish`.
 */
export class ProgressReporter {
  readonly #o: Required<Omit<ProgressReporterOptions, 'startedAtMs'>>;
  readonly #startedAtMs: number;
  #last: RunSummary | null = null;
  #lastPrinted = '';
  #lastPrintedAtMs = -Infinity;
  #pending: ReturnType<typeof setTimeout> | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #drawn = false;
  #finished = false;

  constructor(options: ProgressReporterOptions) {
    this.#o = {
      tty: options.tty,
      write: options.write,
      columns: options.columns ?? (() => 80),
      now: options.now ?? Date.now,
      minIntervalMs: options.minIntervalMs ?? 2000,
      tickMs: options.tickMs ?? 1000,
    };
    this.#startedAtMs = options.startedAtMs ?? this.#o.now();
  }

  update(summary: RunSummary): void {
    if (this.#finished) return;
    this.#last = summary;
    if (this.#o.tty) {
      this.#draw();
      this.#startTicker();
    } else {
      this.#plain(false);
    }
  }

  /** Prints a message without garbling the progress line (redrawn after it on a TTY). */
  note(message: string): void {
    if (this.#o.tty && this.#drawn) {
      this.#o.write(`${CLEAR_LINE}${message}\n`);
      this.#drawn = false;
      if (!this.#finished) this.#draw();
    } else {
      this.#o.write(`${message}\n`);
    }
  }

  /** The final line (for `summary`, else the last one seen); stops the timers. */
  finish(summary?: RunSummary): void {
    if (this.#finished) return;
    if (summary !== undefined) this.#last = summary;
    this.#stopTimers();
    if (this.#o.tty) {
      if (this.#last !== null) this.#draw();
      if (this.#drawn) this.#o.write('\n');
    } else {
      this.#plain(true);
    }
    this.#finished = true;
  }

  /** Stops the timers without printing (the caller is bailing out). */
  dispose(): void {
    this.#stopTimers();
    if (this.#o.tty && this.#drawn) this.#o.write('\n');
    this.#drawn = false;
    this.#finished = true;
  }

  #line(): string {
    if (this.#last === null) return '';
    return formatProgressLine(this.#last, {
      tty: this.#o.tty,
      width: this.#o.columns(),
      elapsedMs: this.#o.now() - this.#startedAtMs,
    });
  }

  #draw(): void {
    if (this.#last === null) return;
    this.#o.write(`${CLEAR_LINE}${this.#line()}`);
    this.#drawn = true;
  }

  #plain(final: boolean): void {
    const line = this.#line();
    if (line === '' || line === this.#lastPrinted) return;
    const waitMs = this.#lastPrintedAtMs + this.#o.minIntervalMs - this.#o.now();
    if (final || waitMs <= 0) {
      this.#printPlain(line);
    } else if (this.#pending === null) {
      this.#pending = setTimeout(() => {
        this.#pending = null;
        const latest = this.#line();
        if (latest !== this.#lastPrinted) this.#printPlain(latest);
      }, waitMs);
      this.#pending.unref();
    }
  }

  #printPlain(line: string): void {
    if (this.#pending !== null) clearTimeout(this.#pending);
    this.#pending = null;
    this.#o.write(`${line}\n`);
    this.#lastPrinted = line;
    this.#lastPrintedAtMs = this.#o.now();
  }

  #startTicker(): void {
    if (this.#ticker !== null || this.#o.tickMs <= 0) return;
    this.#ticker = setInterval(() => this.#draw(), this.#o.tickMs);
    this.#ticker.unref();
  }

  #stopTimers(): void {
    if (this.#pending !== null) clearTimeout(this.#pending);
    if (this.#ticker !== null) clearInterval(this.#ticker);
    this.#pending = null;
    this.#ticker = null;
  }
}
