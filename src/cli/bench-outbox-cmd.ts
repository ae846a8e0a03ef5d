import { type Command } from 'commander';
import { outboxBenchPutsMax, runOutboxBench } from '../bench/outbox.js';
import { UsageError } from './errors.js';
import { integerFlag, nonNegativeIntFlag, positiveIntFlag } from './flags.js';

/** Most concurrent attempts one case may drive (a worker's slots are far fewer). */
const concurrencyMax = 1024;

/** `testudo bench outbox` (docs/architecture.md, "The worker's outbox"). */
export function registerOutboxBench(bench: Command, write: (text: string) => void, progress: (line: string) => void): void {
  bench
    .command('outbox')
    .description("the worker outbox's storage, its hand-written log against LevelDB (synced batches): puts/s, put latency until durable, CPU per put (medians of alternating runs)")
    .option('--concurrency <list>', 'concurrent attempts, one case each (comma-separated)', '1,8,32')
    .option('--puts <n>', 'timed puts per run', '2000')
    .option('--warmup-puts <n>', 'untimed puts first, per run', '200')
    .option('--pairs <n>', 'runs per storage and case, alternating', '5')
    .option('--confirm-batch <n>', 'ids per confirm (the leader confirms committed results in batches)', '32')
    .option('--seed <n>', 'result sizes (1-4 KB)', '1')
    .option('--data-dir <dir>', "parent of the runs' directories (default: the OS temp dir)")
    .action(async (o: { concurrency: string; puts: string; warmupPuts: string; pairs: string; confirmBatch: string; seed: string; dataDir?: string }) => {
      const concurrency = o.concurrency.split(',').map((part) => integerFlag('--concurrency', part.trim(), 1, concurrencyMax));
      const puts = positiveIntFlag('--puts', o.puts);
      if (puts > outboxBenchPutsMax) throw new UsageError(`--puts must be at most ${outboxBenchPutsMax}, got ${puts}`);
      const result = await runOutboxBench(
        {
          concurrency,
          puts,
          warmupPuts: nonNegativeIntFlag('--warmup-puts', o.warmupPuts),
          pairs: positiveIntFlag('--pairs', o.pairs),
          confirmBatch: positiveIntFlag('--confirm-batch', o.confirmBatch),
          seed: nonNegativeIntFlag('--seed', o.seed),
          ...(o.dataDir === undefined ? {} : { dir: o.dataDir }),
        },
        progress,
      );
      write(`${JSON.stringify(result)}\n`);
    });
}
