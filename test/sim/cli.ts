/**
 * Deterministic Raft simulation from the command line.
 *
 *   npm run sim -- --seeds 2000 [--nodes 3|5] [--steps 1000] [--start 1] [--profile mixed|churn]
 *   npm run sim -- --seed 1234 --trace      replay one run exactly
 *   --plant BUG       run with one planted bug (test/sim/planted-bugs.ts)
 *   --no-rollback     leave out the storage-rollback fault (the fault mix before it)
 *   --no-slow-writes  write, send and apply every Ready at once (the schedule before writes in flight)
 *   --read-mode lease leaders answer reads under a lease (RaftConfig.readMode; default safe)
 *   --check-quorum-timeouts N  a leader steps down after N election timeouts without a quorum (default 1)
 *
 * Without --nodes, even seeds run 3 nodes and odd seeds 5, so a seed alone
 * names a run. The last line is `sim: N seeds, V violations, S steps`; the
 * exit code is 1 when any seed found a violation (each is printed with its
 * seed and the command that replays it).
 */
import { parseArgs } from 'node:util';
import { plantOptions, plantedBugs, type PlantedBug } from './planted-bugs.js';
import { simulate, type SimOptions } from './simulator.js';

export function nodesForSeed(seed: number, nodes: string | undefined): 3 | 5 {
  if (nodes === '3') return 3;
  if (nodes === '5') return 5;
  if (nodes !== undefined) throw new Error(`--nodes must be 3 or 5, got ${nodes}`);
  return seed % 2 === 0 ? 3 : 5;
}

function main(): number {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string', default: '1' },
      nodes: { type: 'string' },
      steps: { type: 'string', default: '1000' },
      trace: { type: 'boolean', default: false },
      profile: { type: 'string', default: 'mixed' },
      plant: { type: 'string' },
      'no-rollback': { type: 'boolean', default: false },
      'no-slow-writes': { type: 'boolean', default: false },
      'read-mode': { type: 'string' },
      'check-quorum-timeouts': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run sim -- --seeds N [--start S] [--nodes 3|5] [--steps M] [--profile mixed|churn] [--plant BUG] [--no-rollback] [--no-slow-writes] [--read-mode safe|lease]\n' +
        '       npm run sim -- --seed K [--nodes 3|5] [--steps M] [--profile mixed|churn] [--plant BUG] [--no-rollback] [--no-slow-writes] [--read-mode safe|lease] [--trace]\n' +
        `planted bugs: ${plantedBugs.join(', ')}\n`,
    );
    return 0;
  }
  const profile = values.profile;
  if (profile !== 'mixed' && profile !== 'churn') throw new Error(`--profile must be mixed or churn, got ${profile}`);
  const plant = values.plant;
  if (plant !== undefined && !(plantedBugs as readonly string[]).includes(plant)) throw new Error(`--plant must be one of ${plantedBugs.join(', ')}; got ${plant}`);
  const planted = plant === undefined ? {} : plantOptions(plant as PlantedBug);
  const rollback = !values['no-rollback'];
  const slowWrites = !values['no-slow-writes'];
  const readMode = values['read-mode'];
  if (readMode !== undefined && readMode !== 'safe' && readMode !== 'lease') throw new Error(`--read-mode must be safe or lease, got ${readMode}`);
  const cqText = values['check-quorum-timeouts'];
  const checkQuorumTimeouts = cqText === undefined ? undefined : Number(cqText);
  if (checkQuorumTimeouts !== undefined && !(Number.isSafeInteger(checkQuorumTimeouts) && checkQuorumTimeouts > 0)) throw new Error(`--check-quorum-timeouts must be a positive integer, got ${cqText}`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps <= 0) throw new Error('--steps must be a positive integer');
  const seeds: number[] = [];
  if (values.seed !== undefined) {
    seeds.push(Number(values.seed));
  } else {
    const count = Number(values.seeds ?? '100');
    const start = Number(values.start);
    for (let i = 0; i < count; i++) seeds.push(start + i);
  }
  if (seeds.some((s) => !Number.isInteger(s))) throw new Error('seeds must be integers');
  let violations = 0;
  let totalSteps = 0;
  const startedMs = performance.now();
  for (const seed of seeds) {
    const options: SimOptions = { seed, nodes: nodesForSeed(seed, values.nodes), steps, trace: values.trace, profile, rollback, slowWrites, ...(readMode === undefined ? {} : { readMode }), ...(checkQuorumTimeouts === undefined ? {} : { checkQuorumTimeouts }), ...planted };
    const result = simulate(options);
    totalSteps += result.steps;
    if (values.trace) for (const line of result.trace) process.stdout.write(`${line}\n`);
    if (values.trace || seeds.length === 1) process.stdout.write(`stats ${JSON.stringify(result.stats)}\n`);
    for (const v of result.violations) {
      violations++;
      process.stdout.write(`VIOLATION seed=${seed} nodes=${result.nodes} step=${v.step} ${v.kind}: ${v.detail}\n`);
      const extra = `${plant === undefined ? '' : ` --plant ${plant}`}${rollback ? '' : ' --no-rollback'}${slowWrites ? '' : ' --no-slow-writes'}${readMode === undefined ? '' : ` --read-mode ${readMode}`}${checkQuorumTimeouts === undefined ? '' : ` --check-quorum-timeouts ${checkQuorumTimeouts}`}`;
      process.stdout.write(`  replay: npm run sim -- --seed ${seed} --nodes ${result.nodes} --steps ${steps} --profile ${profile}${extra} --trace\n`);
    }
  }
  const seconds = (performance.now() - startedMs) / 1000;
  process.stdout.write(`wall ${seconds.toFixed(1)} s, ${Math.round(totalSteps / seconds)} steps/s\n`);
  process.stdout.write(`sim: ${seeds.length} seeds, ${violations} violations, ${totalSteps} steps\n`);
  return violations === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
