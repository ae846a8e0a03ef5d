// The worker's outbox: finished attempt results kept on disk until the
// coordinator confirms it has committed them, so a worker restart or a lost
// connection never loses a result.
//
// One file per result, `<sanitized attemptId>.json`, written crash-safely:
// temp file, fsync, rename, fsync of the directory. Each file is an envelope
// `{"format":1,"sha256":"<hex>","result":"<JSON of the AttemptResult>"}`; the
// checksum covers the exact result text. On open, leftover temp files are
// removed and a file that fails its checks is moved to `corrupt/` and reported
// in `problems` (never dropped silently).

import { randomBytes, createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { AttemptResult } from '../model/types.js';
import { sanitizeId } from './executor.js';
import { outboxEntriesMaxDefault, outboxFileBytesMax } from './limits.js';

export const outboxFormatVersion = 1;

export interface OutboxOptions {
  /** Most unconfirmed results held; default 10,000. */
  readonly entriesMax?: number;
}

/** A file found unusable when the outbox was opened. */
export interface OutboxProblem {
  /** The file as found. */
  readonly file: string;
  readonly reason: string;
  /** Where it was moved (under corrupt/), or '' if moving failed too. */
  readonly movedTo: string;
}

export class OutboxFullError extends Error {
  override readonly name = 'OutboxFullError';
  constructor(readonly entriesMax: number) {
    super(`the outbox holds ${entriesMax} unconfirmed results, its limit: the coordinator has not confirmed them`);
  }
}

/** The outbox directory of a worker's work dir. */
export function outboxDir(workDir: string): string {
  return path.join(workDir, 'outbox');
}

const tempPrefix = '.tmp-';

export class Outbox {
  private readonly entries = new Map<string, AttemptResult>();
  private readonly writing = new Map<string, Promise<void>>();
  private readonly problemList: OutboxProblem[];

  private constructor(
    readonly dir: string,
    readonly entriesMax: number,
    problems: OutboxProblem[],
  ) {
    this.problemList = problems;
  }

  /** Opens (creating) the outbox in `dir`, loading every result in it. */
  static async open(dir: string, options: OutboxOptions = {}): Promise<Outbox> {
    await mkdir(dir, { recursive: true });
    const problems: OutboxProblem[] = [];
    const outbox = new Outbox(dir, options.entriesMax ?? outboxEntriesMaxDefault, problems);
    const names = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    let removedTemp = false;
    for (const dirent of names) {
      const file = path.join(dir, dirent.name);
      if (dirent.name.startsWith(tempPrefix)) {
        // A write that crashed before its rename: never part of the outbox.
        await rm(file, { force: true, recursive: true });
        removedTemp = true;
        continue;
      }
      if (!dirent.name.endsWith('.json')) continue;
      const loaded = await loadFile(file, dirent.name);
      if (loaded.ok) {
        if (!outbox.entries.has(loaded.result.attemptId)) outbox.entries.set(loaded.result.attemptId, loaded.result);
        continue;
      }
      problems.push({ file, reason: loaded.reason, movedTo: await quarantine(dir, dirent.name) });
    }
    if (removedTemp || problems.length > 0) await fsyncDir(dir);
    return outbox;
  }

  /** Files found corrupt when the outbox was opened, now under corrupt/. */
  get problems(): readonly OutboxProblem[] {
    return this.problemList;
  }

  get size(): number {
    return this.entries.size;
  }

  has(attemptId: string): boolean {
    return this.entries.has(attemptId);
  }

  /**
   * Stores a result durably (resolves once it is on disk). Idempotent: a
   * result for an attemptId already held (or being written) is not rewritten.
   */
  async put(result: AttemptResult): Promise<void> {
    const id = result.attemptId;
    if (this.entries.has(id)) return;
    const inFlight = this.writing.get(id);
    if (inFlight !== undefined) return inFlight;
    if (this.entries.size + this.writing.size >= this.entriesMax) throw new OutboxFullError(this.entriesMax);
    const write = this.write(result).finally(() => this.writing.delete(id));
    this.writing.set(id, write);
    await write;
    this.entries.set(id, result);
  }

  /** Forgets results the coordinator has committed (unknown ids are ignored). */
  async confirm(attemptIds: readonly string[]): Promise<void> {
    let removed = false;
    for (const id of attemptIds) {
      const inFlight = this.writing.get(id);
      if (inFlight !== undefined) await inFlight.catch(() => undefined);
      if (!this.entries.has(id)) continue;
      await unlink(this.fileOf(id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      this.entries.delete(id);
      removed = true;
    }
    if (removed) await fsyncDir(this.dir);
  }

  /** Unconfirmed results, oldest first (finishedAtMs, then attemptId). */
  pending(): AttemptResult[] {
    return [...this.entries.values()].sort(
      (a, b) => a.finishedAtMs - b.finishedAtMs || (a.attemptId < b.attemptId ? -1 : a.attemptId > b.attemptId ? 1 : 0),
    );
  }

  private fileOf(attemptId: string): string {
    return path.join(this.dir, `${sanitizeId(attemptId)}.json`);
  }

  private async write(result: AttemptResult): Promise<void> {
    const text = encodeEntry(result);
    const target = this.fileOf(result.attemptId);
    const temp = path.join(this.dir, `${tempPrefix}${randomBytes(6).toString('hex')}-${path.basename(target)}`);
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await fsyncDir(this.dir);
  }
}

/** The file text of one result. */
export function encodeEntry(result: AttemptResult): string {
  const payload = JSON.stringify(result);
  return `${JSON.stringify({ format: outboxFormatVersion, sha256: sha256(payload), result: payload })}\n`;
}

type Loaded = { ok: true; result: AttemptResult } | { ok: false; reason: string };

async function loadFile(file: string, name: string): Promise<Loaded> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return { ok: false, reason: 'not a regular file' };
    if (info.size > outboxFileBytesMax) return { ok: false, reason: `${info.size} bytes, over the limit` };
    return decodeEntry(await readFile(file, 'utf8'), name);
  } catch (err) {
    return { ok: false, reason: `cannot read: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Parses and checks one outbox file's text (name: its file name, which must match the attemptId). */
export function decodeEntry(text: string, name: string): Loaded {
  if (text.length === 0) return { ok: false, reason: 'empty file' };
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON (truncated?)' };
  }
  if (typeof envelope !== 'object' || envelope === null) return { ok: false, reason: 'not an outbox entry' };
  const { format, sha256: sum, result: payload } = envelope as Record<string, unknown>;
  if (format !== outboxFormatVersion) return { ok: false, reason: `unknown format ${JSON.stringify(format)}` };
  if (typeof sum !== 'string' || typeof payload !== 'string') return { ok: false, reason: 'not an outbox entry' };
  if (sha256(payload) !== sum) return { ok: false, reason: 'checksum mismatch' };
  let result: unknown;
  try {
    result = JSON.parse(payload);
  } catch {
    return { ok: false, reason: 'result is not valid JSON' };
  }
  if (!looksLikeResult(result)) return { ok: false, reason: 'result lacks the fields of an AttemptResult' };
  if (`${sanitizeId(result.attemptId)}.json` !== name) {
    return { ok: false, reason: `holds attempt ${JSON.stringify(result.attemptId)}, not the one its name says` };
  }
  return { ok: true, result };
}

function looksLikeResult(value: unknown): value is AttemptResult {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r['attemptId'] === 'string' &&
    typeof r['taskId'] === 'string' &&
    typeof r['workerId'] === 'string' &&
    (r['outcome'] === 'passed' || r['outcome'] === 'failed' || r['outcome'] === 'infra-error') &&
    typeof r['finishedAtMs'] === 'number' &&
    Array.isArray(r['tests'])
  );
}

async function quarantine(dir: string, name: string): Promise<string> {
  const corruptDir = path.join(dir, 'corrupt');
  try {
    await mkdir(corruptDir, { recursive: true });
    let target = path.join(corruptDir, name);
    try {
      await stat(target);
      target = path.join(corruptDir, `${name}.${Date.now()}-${randomBytes(3).toString('hex')}`);
    } catch {
      // free
    }
    await rename(path.join(dir, name), target);
    await fsyncDir(corruptDir);
    return target;
  } catch {
    return '';
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Makes a directory's entries (creates, renames, unlinks) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
