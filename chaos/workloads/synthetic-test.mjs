#!/usr/bin/env node
// A synthetic test for chaos scenarios (src/failure-injection/scenario/workload.ts
// generates the run spec that runs it). It computes for a share of its
// duration (CPU time, so a throttled or starved worker stretches it), idles
// for the rest in short steps that only count while the process runs (so a
// SIGSTOP/SIGCONT duty cycle stretches the idle part too), writes a one-case
// JUnit report and exits 0.
//
//   node synthetic-test.mjs --first 1 --durations-ms 300[,120,...] --shard "$TESTUDO_SHARD_INDEX" \
//     [--busy-fraction 0.1] [--junit PATH]
//
// The test is number first + shard - 1 and lasts durations[shard - 1] ms; it
// is named synthetic-0001, synthetic-0002... The report goes to --junit, else
// $TESTUDO_JUNIT (where the Testudo worker expects it). Bad arguments exit 2.
// With TESTUDO_SYNTHETIC_ANNOUNCE=1 it prints "idle" on stdout as its idle
// part begins (a test stops it there).

import { renameSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const DURATION_MS_MAX = 600_000;
/** One idle step: the process sleeps this long, then wakes to count it. */
const IDLE_STEP_MS = 5;
/**
 * A step that took longer than this was stopped (SIGSTOP) or starved, not
 * merely woken late by a busy machine: it counts as IDLE_STEP_MS only.
 */
const IDLE_STEP_COUNTED_MS_MAX = 15;

/**
 * @param {string} problem
 * @returns {never}
 */
function usage(problem) {
  process.stderr.write(`synthetic-test: ${problem}\n`);
  process.exit(2);
}

/**
 * @param {string | undefined} text
 * @param {string} what
 * @returns {number}
 */
function positiveInteger(text, what) {
  if (text === undefined || !/^\d+$/.test(text)) usage(`${what} must be a positive integer, got ${JSON.stringify(text ?? '')}`);
  const n = Number(text);
  if (n < 1) usage(`${what} must be a positive integer, got ${text}`);
  return n;
}

const OPTIONS = /** @type {const} */ ({
  first: { type: 'string' },
  'durations-ms': { type: 'string' },
  shard: { type: 'string' },
  'busy-fraction': { type: 'string' },
  junit: { type: 'string' },
});

/** @returns {{ values: Partial<Record<keyof typeof OPTIONS, string>> }} */
function parse() {
  try {
    return parseArgs({ options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
}

/** @returns {{ index: number, durationMs: number, busyFraction: number, junit: string }} */
function readArgs() {
  const { values } = parse();
  const first = positiveInteger(values.first, '--first');
  const durations = (values['durations-ms'] ?? '').split(',').map((d) => positiveInteger(d, 'each of --durations-ms'));
  if (durations.some((d) => d > DURATION_MS_MAX)) usage(`durations must be at most ${DURATION_MS_MAX} ms`);
  // An unset TESTUDO_SHARD_INDEX expands to '': fine for a single test.
  let shard = 1;
  if (values.shard !== undefined && values.shard !== '') shard = positiveInteger(values.shard, '--shard');
  else if (durations.length > 1) usage('--shard is required with several durations');
  const durationMs = durations[shard - 1];
  if (durationMs === undefined) usage(`--shard ${shard} but only ${durations.length} durations`);
  const busyFraction = Number(values['busy-fraction'] ?? '0.1');
  if (!(busyFraction >= 0 && busyFraction <= 1)) usage(`--busy-fraction must be in [0, 1], got ${values['busy-fraction']}`);
  const junit = values.junit ?? process.env.TESTUDO_JUNIT ?? '';
  if (junit === '') usage('no report path: pass --junit or set TESTUDO_JUNIT');
  return { index: first + shard - 1, durationMs, busyFraction, junit };
}

/**
 * Burns CPU until this process has used `cpuMs` more of it.
 * @param {number} cpuMs
 */
function work(cpuMs) {
  if (cpuMs <= 0) return 0;
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 20_000; i++) x += Math.sqrt(i + x) % 7;
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= cpuMs) return x;
  }
}

/**
 * Idles until `ms` of running time has passed. A plain sleep of `ms` ends on
 * time however long the process was stopped meanwhile (its timer fires while
 * it is stopped); counting short steps, and counting a step that took far too
 * long as one step, makes idle time progress a stopped process cannot make.
 * With cpuShare 0.33 (stopped 67 ms of every 100 ms) it lasts about 2.8× as
 * long.
 * @param {number} ms
 */
async function idle(ms) {
  let countedMs = 0;
  let lastMs = performance.now();
  while (countedMs < ms) {
    await sleep(Math.min(IDLE_STEP_MS, ms - countedMs));
    const nowMs = performance.now();
    const tookMs = nowMs - lastMs;
    lastMs = nowMs;
    countedMs += tookMs <= IDLE_STEP_COUNTED_MS_MAX ? tookMs : IDLE_STEP_MS;
  }
}

/**
 * @param {string} name
 * @param {number} seconds
 */
function report(name, seconds) {
  const time = seconds.toFixed(3);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="synthetic" tests="1" failures="0" errors="0" skipped="0" time="${time}">\n` +
    `  <testsuite name="synthetic" tests="1" failures="0" errors="0" skipped="0" time="${time}">\n` +
    `    <testcase classname="synthetic" name="${name}" time="${time}"/>\n` +
    '  </testsuite>\n' +
    '</testsuites>\n'
  );
}

const { index, durationMs, busyFraction, junit } = readArgs();
const name = `synthetic-${String(index).padStart(4, '0')}`;
const startedMs = performance.now();
// Both parts count progress this process made, not wall time: a stopped or
// starved test takes longer, as a real one would.
const busyMs = durationMs * busyFraction;
work(busyMs);
if (process.env.TESTUDO_SYNTHETIC_ANNOUNCE === '1') process.stdout.write('idle\n');
await idle(durationMs - busyMs);
const seconds = (performance.now() - startedMs) / 1000;
// Written whole then renamed: a test killed mid-write leaves no half report.
const partial = `${junit}.${process.pid}.partial`;
writeFileSync(partial, report(name, seconds));
renameSync(partial, junit);
process.stdout.write(`${name}: ${durationMs} ms asked, ${Math.round(seconds * 1000)} ms taken\n`);
