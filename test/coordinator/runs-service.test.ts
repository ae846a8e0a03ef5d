import { inflateRawSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { encodeRunView, encodeTasksPerTurn } from '../../src/coordinator/runs-service.js';
import type { RunView, TaskView } from '../../src/model/index.js';
import { maskedEnvValue, maskRunEnv } from '../../src/report/mask.js';
import { template } from './orchestrator-fixtures.js';

const task = (k: number): TaskView => ({
  taskId: `r1.t${k}`,
  runId: 'r1',
  template: template({ shard: 1, shardCount: 1 }),
  files: [],
  state: 'passed',
  reason: '',
  queuedAtMs: 1,
  finishedAtMs: 2,
  expectedMs: 3,
  attempts: [],
  decisions: [],
});

const view = (tasks: number): RunView => ({
  degraded: false,
  runId: 'r1',
  name: 'n',
  state: 'passed',
  submittedAtMs: 1,
  finishedAtMs: 2,
  counts: { tasks, queued: 0, running: 0, passed: tasks, failed: 0, cancelled: 0, failedInfra: 0 },
  setup: [],
  setupCacheKey: '',
  sourceDir: '/',
  tasks: Array.from({ length: tasks }, (_, i) => task(i + 1)),
  flakiness: { 'unit/a::b': 0.5 },
});

describe('encodeRunView', () => {
  it.each([0, 1, encodeTasksPerTurn, encodeTasksPerTurn * 2 + 7])('gives the deflated JSON of the view with %i tasks', async (n) => {
    const run = view(n);
    const decoded = JSON.parse(inflateRawSync(await encodeRunView(run)).toString('utf8')) as RunView;
    expect(decoded).toEqual(run);
  });
});

describe('env masking', () => {
  it('encodeRunView masks every env value (names kept) and leaves the view it was given unchanged', async () => {
    const run = view(2);
    const withEnv: RunView = { ...run, tasks: run.tasks.map((t) => ({ ...t, template: { ...t.template, env: { TOKEN: 'abc123-secret', EMPTY: '' } } })) };
    const before = JSON.stringify(withEnv);
    const text = inflateRawSync(await encodeRunView(withEnv)).toString('utf8');
    expect(text).not.toContain('abc123-secret');
    const decoded = JSON.parse(text) as RunView;
    for (const t of decoded.tasks) expect(t.template.env).toEqual({ TOKEN: maskedEnvValue, EMPTY: maskedEnvValue });
    expect(decoded).toEqual(maskRunEnv(withEnv));
    expect(JSON.stringify(withEnv)).toBe(before);
  });
});
