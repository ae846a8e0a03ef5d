import { chaosDefaults, type ChaosControl, type ChaosSchema } from '../common/chaos-endpoint.js';
import type { Logger } from './logger.js';

/**
 * A coordinator's chaos hooks, for chaos runs only (`--chaos-hooks`; /chaos
 * on its HTTP server sets them): a delay before each synced write of the Raft
 * log, standing in for a slow disk. The delay happens inside the Ready's
 * persistence, so it is part of what `testudo_disk_fsync_duration_seconds`
 * measures and Raft waits for it exactly as it would for a slow fsync.
 */

export type CoordinatorChaosSettings = {
  /** Added before every synced write batch of the Raft log. */
  readonly fsyncDelayMs: number;
};

/** Longest injected delay per synced write. */
export const fsyncDelayMsMax = 10_000;

export const coordinatorChaosSchema: ChaosSchema<CoordinatorChaosSettings> = {
  fsyncDelayMs: { defaultValue: 0, expected: `an integer in 0..${fsyncDelayMsMax}`, valid: (v) => Number.isInteger(v) && v >= 0 && v <= fsyncDelayMsMax },
};

export class CoordinatorChaosHooks implements ChaosControl<CoordinatorChaosSettings> {
  readonly schema = coordinatorChaosSchema;
  private current: CoordinatorChaosSettings = chaosDefaults(coordinatorChaosSchema);
  /** Delays in progress, ended early by `stop()` so a stopping node does not wait them out. */
  private readonly waiting = new Set<() => void>();
  private stopped = false;

  constructor(private readonly log: Logger) {}

  get(): CoordinatorChaosSettings {
    return this.current;
  }

  replace(settings: CoordinatorChaosSettings): void {
    this.current = Object.freeze({ ...settings });
    this.log.info({ event: 'chaos-settings', ...this.current }, 'chaos settings changed');
  }

  /**
   * For `LevelDbStorage`'s `beforeSyncedWrite`: a wait of at least
   * fsyncDelayMs, or null when the delay is 0, so the hot path awaits
   * nothing. A settings change applies from the next write.
   */
  readonly beforeSyncedWrite = (): Promise<void> | null => {
    const delayMs = this.current.fsyncDelayMs;
    if (delayMs === 0 || this.stopped) return null;
    return this.delay(delayMs);
  };

  /** Ends every delay in progress and adds no more (node shutdown). */
  stop(): void {
    this.stopped = true;
    for (const end of this.waiting) end();
    this.waiting.clear();
  }

  /** Sleeps at least `ms` by performance.now() (a timer may fire a little early), unless stopped. */
  private async delay(ms: number): Promise<void> {
    const startMs = performance.now();
    while (!this.stopped) {
      const leftMs = ms - (performance.now() - startMs);
      if (leftMs <= 0) return;
      await new Promise<void>((resolve) => {
        const end = (): void => {
          clearTimeout(timer);
          this.waiting.delete(end);
          resolve();
        };
        const timer = setTimeout(end, Math.ceil(leftMs));
        this.waiting.add(end);
      });
    }
  }
}
