// Captures a command's interleaved stdout and stderr: the whole output into a
// log file up to a cap (then a truncation marker), the last bytes in memory for
// the result's outputTail, and whether the output mentions running out of
// memory (for classifying a killed command).

import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { utf8Suffix } from './limits.js';

export interface OutputCaptureOptions {
  /** Log file path; absent: no log file (only the tail is kept). */
  readonly logPath?: string;
  /** Cap of the log file in bytes (marker excluded). */
  readonly logBytesMax: number;
  /** Bytes kept in memory for {@link OutputCapture.tail}. */
  readonly tailBytes: number;
}

const oomPattern = /out of memory|JavaScript heap out of memory|Cannot allocate memory|std::bad_alloc/i;
/** Characters of the previous chunk re-scanned with the next, so a phrase split across chunks is seen. */
const oomOverlap = 64;

/** Tail ring buffer, bounded log writer and out-of-memory detector for one command. */
export class OutputCapture {
  private readonly log: WriteStream | undefined;
  private readonly logBytesMax: number;
  private readonly tailBytes: number;
  private tailChunks: Buffer[] = [];
  private tailLength = 0;
  private written = 0;
  private truncated = false;
  private scanCarry = '';
  private oom = false;
  private readonly sources = new Set<Readable>();
  private paused = false;
  private logError: Error | undefined;

  constructor(options: OutputCaptureOptions) {
    this.logBytesMax = options.logBytesMax;
    this.tailBytes = Math.max(0, options.tailBytes);
    if (options.logPath !== undefined) {
      this.log = createWriteStream(options.logPath, { flags: 'w' });
      this.log.on('error', (err) => {
        // Keep draining the command's output (into the tail) without the file.
        this.logError = err;
        this.resume();
      });
      this.log.on('drain', () => this.resume());
    }
  }

  /** Copies a stream into the capture; pauses it while the log file is backed up. */
  attach(stream: Readable): void {
    this.sources.add(stream);
    stream.on('data', (chunk: Buffer | string) => this.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.addTail(chunk);
    this.scan(chunk);
    if (this.log === undefined || this.logError !== undefined || this.truncated) return;
    const room = this.logBytesMax - this.written;
    let ok: boolean;
    if (chunk.length <= room) {
      this.written += chunk.length;
      ok = this.log.write(chunk);
    } else {
      const head = chunk.subarray(0, Math.max(0, room));
      const marker = Buffer.from(`\n…[log truncated at ${this.logBytesMax} bytes]\n`);
      this.written += head.length + marker.length;
      this.truncated = true;
      ok = this.log.write(Buffer.concat([head, marker]));
    }
    if (!ok) this.pause();
  }

  /** Bytes written to the log file (marker included). */
  get logBytes(): number {
    return this.written;
  }

  get logTruncated(): boolean {
    return this.truncated;
  }

  /** Whether the output mentioned running out of memory. */
  get mentionsOutOfMemory(): boolean {
    return this.oom;
  }

  /** The last `tailBytes` bytes of output, cut on a UTF-8 character boundary. */
  tail(): string {
    if (this.tailLength === 0) return '';
    return utf8Suffix(Buffer.concat(this.tailChunks), this.tailBytes);
  }

  /** Flushes and closes the log file; resolves with the first write error, if any. */
  async close(): Promise<Error | undefined> {
    this.resume();
    const log = this.log;
    if (log !== undefined && !log.closed) {
      await new Promise<void>((resolve) => {
        log.end(() => resolve());
        log.once('error', () => resolve());
      });
    }
    return this.logError;
  }

  private addTail(chunk: Buffer): void {
    if (this.tailBytes === 0) return;
    this.tailChunks.push(chunk);
    this.tailLength += chunk.length;
    // Compact once twice the tail is held (amortized), keeping a few spare
    // bytes so the cut can land on a character boundary.
    if (this.tailLength > 2 * this.tailBytes + 8) {
      const all = Buffer.concat(this.tailChunks);
      const keep = all.subarray(all.length - (this.tailBytes + 4));
      this.tailChunks = [Buffer.from(keep)];
      this.tailLength = keep.length;
    }
  }

  private scan(chunk: Buffer): void {
    if (this.oom) return;
    const text = this.scanCarry + chunk.toString('latin1');
    if (oomPattern.test(text)) this.oom = true;
    this.scanCarry = text.slice(-oomOverlap);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const source of this.sources) source.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const source of this.sources) source.resume();
  }
}
