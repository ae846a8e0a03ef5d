import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * Where a coordinator's main thread spends its CPU, from a V8 `.cpuprofile`
 * (`node --cpu-prof`): the self time of every sample, grouped into the
 * components docs/bench/raft-profile-2026-12-03.md reports. Run it on the
 * profiles `bench raft` leaves when TESTUDO_COORDINATOR_NODE_ARGS holds
 * `--cpu-prof --cpu-prof-dir=<dir>`:
 *
 *   node --import tsx src/bench/cpu-profile.ts <dir>/*.cpuprofile
 *
 * Only the main thread is sampled: LevelDB's writes and fsyncs run on
 * libuv's thread pool and show in /proc's CPU time, not here.
 */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  /** µs of the monotonic clock (process.hrtime's). */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Components, first match wins: [name, test on url and function name]. */
const components: readonly (readonly [string, (url: string, fn: string) => boolean])[] = [
  ['idle', (_u, fn) => fn === '(idle)'],
  ['GC', (_u, fn) => fn === '(garbage collector)'],
  ['native (program)', (_u, fn) => fn === '(program)'],
  ['grpc-js', (u) => u.includes('@grpc/grpc-js')],
  ['protobuf encoding', (u) => u.includes('protobufjs') || u.includes('@grpc/proto-loader') || u.includes('@protobufjs')],
  ['JSON', (u, fn) => u === '' && (fn === 'stringify' || fn === 'parse')],
  ['LevelDB (JS side)', (u) => /(classic-level|abstract-level|\/level\/|module-error|maybe-combine-errors)/.test(u)],
  ['node http2', (u) => u.startsWith('node:internal/http2') || u === 'node:http2'],
  ['node net/streams/buffers', (u) => /^node:(internal\/streams|internal\/stream_base|net|stream|buffer|internal\/buffer|internal\/net)/.test(u)],
  ['promises/microtasks/timers', (u, fn) => /^node:internal\/(process\/task_queues|timers|async_hooks)|^node:timers/.test(u) || /^(processTicksAndRejections|runMicrotasks|then|resolve|Promise)/.test(fn)],
  ['raft core', (u) => u.includes('/raft/core/')],
  ['raft node', (u) => u.includes('/raft/node/')],
  ['raft storage', (u) => u.includes('/raft/storage/') || u.includes('/raft/crc32c')],
  ['raft transport', (u) => u.includes('/raft/transport/')],
  ['state machine + codec', (u) => /\/coordinator\/(kv-machine|codec|state-machine|propose)/.test(u) || u.includes('/coordinator/orchestrator/')],
  ['coordinator services', (u) => u.includes('/coordinator/') || u.includes('/security/')],
  ['metrics (prom-client)', (u) => u.includes('prom-client')],
  ['logging (pino)', (u) => u.includes('pino')],
  ['other node internals', (u) => u.startsWith('node:')],
  ['V8 builtins / other', () => true],
];

export interface Breakdown {
  /** Sampled time, idle excluded, in ms. */
  busyMs: number;
  idleMs: number;
  /** Component → self time in ms. */
  byComponent: Record<string, number>;
  /** The costliest functions by self time: "name url:line" → ms. */
  topFunctions: [string, number][];
}

/** A span of the monotonic clock, in µs: `bench raft` logs its timed writes' span (`bench schedule` its big run's). */
export interface WindowUs {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Self time per component and per function of one profile (or several, summed), of the samples within `window` if given. */
export function profileBreakdown(profiles: readonly CpuProfile[], topCount = 25, window: WindowUs | null = null): Breakdown {
  const byComponent = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    let atUs = profile.startTime;
    profile.samples.forEach((id, i) => {
      const deltaUs = profile.timeDeltas[i] ?? 0;
      atUs += deltaUs;
      if (window !== null && (atUs < window.fromUs || atUs > window.toUs)) return;
      const ms = deltaUs / 1000;
      const frame = nodes.get(id)?.callFrame;
      if (frame === undefined) throw new Error(`sample ${i} names no node ${id}`);
      const component = components.find(([, test]) => test(frame.url, frame.functionName))![0];
      if (component === 'idle') {
        idleMs += ms;
        return;
      }
      busyMs += ms;
      byComponent.set(component, (byComponent.get(component) ?? 0) + ms);
      const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|dist)\//, '')}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    });
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)]);
  return { busyMs: Math.round(busyMs), idleMs: Math.round(idleMs), byComponent: Object.fromEntries(sorted(byComponent)), topFunctions: sorted(byFunction).slice(0, topCount) };
}

async function main(args: readonly string[]): Promise<void> {
  const windowMatch = args[0] === '--window' ? /^(\d+)-(\d+)$/.exec(args[1] ?? '') : null;
  if (args[0] === '--window' && windowMatch === null) throw new Error('--window takes <fromUs>-<toUs>, as bench raft logs it');
  const window = windowMatch === null ? null : { fromUs: Number(windowMatch[1]), toUs: Number(windowMatch[2]) };
  const files = window === null ? args : args.slice(2);
  if (files.length === 0) throw new Error('usage: cpu-profile.ts [--window <fromUs>-<toUs>] <file.cpuprofile>…');
  const profiles = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as CpuProfile));
  for (const [i, file] of files.entries()) process.stdout.write(`${JSON.stringify({ file, ...profileBreakdown([profiles[i]!], 15, window) })}\n`);
  process.stdout.write(`${JSON.stringify({ file: 'all', ...profileBreakdown(profiles, 40, window) })}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
