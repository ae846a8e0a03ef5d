import { resolve } from 'node:path';
import { type Command } from 'commander';
import { OssSuiteSpecError, ossRoundsDefault, ossRoundsMax, runOssSuite } from '../bench/oss-suite.js';
import { ExitError, UsageError } from './errors.js';
import { integerFlag, positiveIntFlag } from './flags.js';

/** Most workers the local cluster of this bench starts. */
const ossWorkersMax = 16;

/** `testudo bench oss-suite` (docs/bench/oss-suite-2026-12-04.md): exit 1 when the per-test outcomes differ. */
export function registerOssSuiteBench(bench: Command, write: (text: string) => void, progress: (line: string) => void): void {
  bench
    .command('oss-suite')
    .description("a real suite run by its own runner directly (on the shards the cluster has just run) and through a local cluster at equal parallelism: per-test outcomes compared, wall times and their ratio (medians of alternating rounds)")
    .requiredOption('--spec <file>', 'testudo.yaml of one suite sharded into workers × slots (e.g. bench/oss/mathjs.testudo.yaml after bench/oss/mathjs-setup.sh)')
    .option('--workers <n>', 'worker processes', '2')
    .option('--slots <n>', 'slots per worker', '2')
    .option('--rounds <n>', `alternating cluster/direct pairs after one warm-up of each (1..${ossRoundsMax})`, String(ossRoundsDefault))
    .option('--data-dir <dir>', "keep the cluster's data and the direct runs' reports here (default: a temporary directory, removed)")
    .action(async (o: { spec: string; workers: string; slots: string; rounds: string; dataDir?: string }) => {
      const options = {
        specPath: resolve(o.spec),
        workers: integerFlag('--workers', o.workers, 1, ossWorkersMax),
        slots: positiveIntFlag('--slots', o.slots),
        rounds: integerFlag('--rounds', o.rounds, 1, ossRoundsMax),
        dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
      };
      let result;
      try {
        result = await runOssSuite(options, progress);
      } catch (error) {
        if (error instanceof OssSuiteSpecError) throw new UsageError(`${options.specPath}: ${error.message}`);
        throw error;
      }
      write(`${JSON.stringify(result)}\n`);
      if (!result.sameOutcomes) throw new ExitError(1);
    });
}
