import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const root = import.meta.dirname;

/**
 * Files that start no process, cluster, browser or server of their own and
 * check no wall-clock bound tighter than a lower one: they run two at a time
 * (the machine has two cores), before the rest, in forks that keep their
 * imported modules from one file to the next: a file listed here must leave
 * no module state (environment, registries, timers) behind. A new file runs
 * with the rest, one at a time, until it is listed here.
 */
const parallelSafe = [
  'test/architecture/**/*.test.ts',
  'test/bench/{cpu-profile,outbox,process-stats,workload}.test.ts',
  'test/client/**/*.test.ts',
  'test/common/**/*.test.ts',
  'test/coordinator/{alerts,codec,config,http-server,kv-machine,leader-wait,metrics,orchestrator,orchestrator-capacity,orchestrator-golden,orchestrator-hedging,orchestrator-prefetch,orchestrator-slow,planted-bugs,readiness,runs-service,scheduler}.test.ts',
  'test/coordinator/recovery/**/*.test.ts',
  'test/coordinator/leader/**/*.test.ts',
  'test/model/**/*.test.ts',
  'test/raft/**/*.test.ts',
  'test/report/**/*.test.ts',
  'test/sim/**/*.test.ts',
  'test/spec/{example,expand,parse,schema}.test.ts',
  'test/worker/{agent-cluster-id,agent-session,attempt-files,capabilities,identity,outbox,setup-cache}.test.ts',
  'test/cli/{progress,run-cmds}.test.ts',
  'test/cluster/ports.test.ts',
  'test/deploy/{compose,dockerfile,grafana,kubernetes,yaml}.test.ts',
  'test/metrics/registries.test.ts',
  'test/ops/{cancelled-call,snapshot-file,snapshot-stream}.test.ts',
  'test/security/{auth-identity,auth-peers,auth-roles}.test.ts',
  'test/integration/checkers.test.ts',
  'test/failure-injection/fault-recorder.test.ts',
  'test/failure-injection/chaos/{analysis,catalog,results}.test.ts',
  'test/failure-injection/hooks/settings.test.ts',
  'test/failure-injection/matrix/{matrix,stats}.test.ts',
  'test/failure-injection/report/**/*.test.ts',
  'test/failure-injection/scenario/{parse,schedule}.test.ts',
  'test/failure-injection/toxiproxy/{api,toxics}.test.ts',
];

/**
 * Parallel-safe files that take far longer than the others (the simulator's
 * seeds): they start first, so that the other worker runs the short files
 * meanwhile instead of waiting on them at the end.
 */
const longFirst = ['test/sim/sim.test.ts', 'test/sim/monitor-checks.test.ts'];

/** vitest's order (longest first by the last run's timings, if any), with `longFirst` ahead of the rest. */
class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification): number => {
      const at = longFirst.indexOf(relative(root, file.moduleId));
      return at === -1 ? longFirst.length : at;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

/** Longest a walk of src/ may go down (src is a few levels deep). */
const sourceDepthMax = 8;

/** Whether every src/**.ts has a dist/src/**.js at least as new (a build after the last edit). */
function buildIsCurrent(dir = join(root, 'src'), depth = 0): boolean {
  if (depth > sourceDepthMax) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!buildIsCurrent(path, depth + 1)) return false;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const built = join(root, 'dist', relative(root, path)).replace(/\.ts$/, '.js');
      try {
        if (statSync(built).mtimeMs < statSync(path).mtimeMs) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/**
 * The coordinators, workers and CLI commands the tests start run the built
 * CLI when the build is current (CI builds before it tests): the same code,
 * without compiling TypeScript in every child (about 0.8 s of CPU each).
 * Otherwise they run the source through tsx, so that a test never runs stale code.
 */
function childEnv(): Record<string, string> {
  if (!buildIsCurrent()) {
    console.error('vitest: dist/ is missing or older than src/: child processes run the source through tsx (slower)');
    return {};
  }
  return { TESTUDO_BUILT_CLI: join(root, 'dist', 'src', 'cli', 'main.js') };
}

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    env: childEnv(),
    sequence: { sequencer: LongFilesFirst },
    projects: [
      // The unit files share their two forks' imported modules (isolate: false): 86 -> 43 s for
      // their 117 files, most of which ran for less than their fork's start and imports.
      // The processes project keeps one fork per file (two CI runs failed with it off there).
      { extends: true, test: { name: 'unit', include: parallelSafe, maxWorkers: 2, isolate: false, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'processes',
          include: ['test/**/*.test.ts'],
          exclude: parallelSafe,
          maxWorkers: 1,
          // The chaos files run some cases two at a time (describe.concurrent): never more.
          maxConcurrency: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
