// Runs a run's setup commands once per cache key on this worker. A success is
// remembered by a marker file `<workDir>/setup/<sha256(cacheKey)>.done` (so it
// survives worker restarts); a failure is not, and the next call retries.
// Concurrent callers for one key share a single in-flight setup.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { runProcessGroup } from './executor.js';
import { killGraceMsDefault, outputTailBytesDefault, setupTimeoutMsDefault } from './limits.js';
import { fsyncDir } from './outbox.js';
import { OutputCapture } from './output-capture.js';

export interface SetupRequest {
  readonly commands: readonly string[];
  readonly cacheKey: string;
  readonly checkoutDir: string;
  /** Extra environment for the commands (over process.env). */
  readonly env?: Readonly<Record<string, string>>;
}

export type SetupResult = { ok: true; cached: boolean } | { ok: false; reason: string; outputTail: string };

export interface SetupCacheOptions {
  readonly workDir: string;
  /** All the commands of one setup together; default 30 min. */
  readonly timeoutMs?: number;
  readonly killGraceMs?: number;
  readonly outputTailBytes?: number;
  /** Cancels in-flight setups (they fail, uncached). */
  readonly signal?: AbortSignal;
}

export class SetupCache {
  private readonly dir: string;
  private readonly done = new Set<string>();
  private readonly inFlight = new Map<string, Promise<SetupResult>>();

  constructor(private readonly options: SetupCacheOptions) {
    this.dir = path.join(options.workDir, 'setup');
  }

  /**
   * Forgets every completed setup (recovery level 3: the worker resets), so
   * the next task of each run sets up again from scratch. Waits for setups in
   * flight first.
   */
  async clear(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
    this.done.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The marker file of a cache key. */
  markerPath(cacheKey: string): string {
    return path.join(this.dir, `${createHash('sha256').update(cacheKey, 'utf8').digest('hex')}.done`);
  }

  ensureSetup(request: SetupRequest): Promise<SetupResult> {
    const marker = this.markerPath(request.cacheKey);
    if (this.done.has(marker)) return Promise.resolve({ ok: true, cached: true });
    const running = this.inFlight.get(marker);
    if (running !== undefined) return running;
    const setup = this.setUp(request, marker).finally(() => this.inFlight.delete(marker));
    this.inFlight.set(marker, setup);
    return setup;
  }

  private async setUp(request: SetupRequest, marker: string): Promise<SetupResult> {
    if (await exists(marker)) {
      this.done.add(marker);
      return { ok: true, cached: true };
    }
    const timeoutMs = this.options.timeoutMs ?? setupTimeoutMsDefault;
    const deadline = Date.now() + timeoutMs;
    const capture = new OutputCapture({ logBytesMax: 0, tailBytes: this.options.outputTailBytes ?? outputTailBytesDefault });
    const env = { ...process.env, ...request.env };
    const total = request.commands.length;
    for (const [index, command] of request.commands.entries()) {
      const label = `setup command ${index + 1} of ${total} (${JSON.stringify(command.slice(0, 200))})`;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return failed(`${label} not started: the setup timeout of ${timeoutMs} ms passed`, capture);
      const run = await runProcessGroup({
        command,
        cwd: request.checkoutDir,
        env,
        timeoutMs: remaining,
        killGraceMs: this.options.killGraceMs ?? killGraceMsDefault,
        capture,
        ...(this.options.signal !== undefined ? { signal: this.options.signal } : {}),
      });
      if (run.spawnError !== undefined) return failed(`${label} could not start in ${request.checkoutDir}: ${run.spawnError}`, capture);
      if (run.cancelled) return failed(`${label} was cancelled`, capture);
      if (run.timedOut) return failed(`${label} timed out: the setup timeout is ${timeoutMs} ms`, capture);
      if (run.signal !== '') return failed(`${label} was killed by ${run.signal}`, capture);
      if (run.exitCode !== 0) return failed(`${label} exited with code ${run.exitCode}`, capture);
    }
    await capture.close();
    await this.mark(marker, request.cacheKey);
    this.done.add(marker);
    return { ok: true, cached: false };
  }

  private async mark(marker: string, cacheKey: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const temp = `${marker}.tmp-${randomBytes(4).toString('hex')}`;
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify({ cacheKey, doneAtMs: Date.now() })}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, marker);
    await fsyncDir(this.dir);
  }
}

async function failed(reason: string, capture: OutputCapture): Promise<SetupResult> {
  await capture.close();
  return { ok: false, reason, outputTail: capture.tail() };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
