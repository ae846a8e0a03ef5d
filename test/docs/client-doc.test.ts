// docs/client.md's complete program, compiled by tsc against the built
// package (`import … from 'testudo'` through node_modules, as a user's
// project has it) and run twice against a local cluster; then
// `testudo runs compare` on the two runs it made.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunComparison } from '../../src/index.js';
import type { TestudoClient } from '../../src/client/index.js';
import { clientFor, startCluster } from '../integration/harness.js';
import { startWorkers } from '../integration/runs-harness.js';
import { main } from '../../src/cli/main.js';
import { repoRoot, runCli } from '../cli/cli-process.js';

const SPEC = `name: docs-example
suites:
  - name: unit
    command: node --test --test-reporter=junit --test-reporter-destination="$TESTUDO_JUNIT" $TESTUDO_FILES
    files: "test/*.test.mjs"
`;

/** `cartOk` false makes the cart test fail; `slowMs` is how long the slow test takes. */
function cartTest(cartOk: boolean, slowMs: number): string {
  return `import { test } from 'node:test';
import assert from 'node:assert';
test('cart adds', () => { assert.strictEqual(${cartOk ? 1 : 2}, 1, 'cart total\\nwas wrong'); });
test('slow one', async () => { await new Promise((r) => setTimeout(r, ${slowMs})); });
`;
}

interface ExampleOutput {
  runId: string;
  state: string;
  reports: Record<string, string>;
  comparison: RunComparison | null;
}

/** The command line in this process (its two streams kept apart). */
async function cliInProcess(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, (t) => (stdout += t), (t) => (stderr += t));
  return { code, stdout, stderr };
}

function exec(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd, env, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** The ```ts block of docs/client.md that imports from 'testudo' and is a whole program. */
async function exampleFromDocs(): Promise<string> {
  const doc = await readFile(join(repoRoot, 'docs', 'client.md'), 'utf8');
  const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((code) => code.includes("from 'testudo'"));
  expect(blocks, 'docs/client.md has one complete program').toHaveLength(1);
  return blocks[0]!;
}

describe('docs/client.md example', () => {
  let cleanup: () => Promise<void> = async () => undefined;
  let client: TestudoClient;
  let app = '';
  let endpoints = '';

  beforeAll(async () => {
    if (!existsSync(join(repoRoot, 'dist', 'src', 'index.js'))) throw new Error('dist/ is missing: run npm run build first (CI builds before testing)');
    const started = await startCluster({ coordinators: 1 });
    cleanup = started.cleanup;
    client = clientFor(started.cluster);
    endpoints = [...started.cluster.members.values()].map((m) => m.grpcAddress).join(',');
    await startWorkers(started.cluster, client, 1, 2);
    app = await mkdtemp(join(tmpdir(), 'testudo-client-doc-'));
    await mkdir(join(app, 'node_modules'));
    await symlink(repoRoot, join(app, 'node_modules', 'testudo'), 'dir');
    await mkdir(join(app, 'test'));
    await writeFile(join(app, 'testudo.yaml'), SPEC);
    await writeFile(join(app, 'package.json'), '{ "type": "module", "private": true }\n');
  }, 90_000);

  afterAll(async () => {
    client?.close();
    await cleanup();
    if (app !== '') await rm(app, { recursive: true, force: true });
  });

  it('compiles with tsc (and a planted misuse does not)', async () => {
    await writeFile(join(app, 'example.ts'), await exampleFromDocs());
    await writeFile(join(app, 'planted.ts'), "import { compareRuns } from 'testudo';\nexport const planted = compareRuns('r-1', 'r-2');\n");
    const config = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: ['node'], typeRoots: [join(repoRoot, 'node_modules', '@types')] },
      files: ['example.ts', 'planted.ts'],
    };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(config));
    const tsc = await exec(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
    const errors = (tsc.stdout + tsc.stderr).split('\n').filter((line) => /error TS\d+/.test(line));
    expect(errors.filter((line) => !line.startsWith('planted.ts(2,')), 'the example compiles').toEqual([]);
    expect(errors.length, 'the planted misuse is reported').toBeGreaterThan(0);
    expect(existsSync(join(app, 'out', 'example.js'))).toBe(true);
  }, 60_000);

  it('runs against the cluster: reports written, the second run compared with the first', async () => {
    const env = { ...process.env, TESTUDO_COORDINATORS: endpoints };
    await writeFile(join(app, 'test', 'cart.test.mjs'), cartTest(true, 20));
    const first = await exec(process.execPath, ['out/example.js', 'testudo.yaml'], app, env);
    expect(first.code, first.stderr).toBe(0);
    const one = JSON.parse(first.stdout) as ExampleOutput;
    expect(one).toMatchObject({ state: 'passed', comparison: null });
    for (const path of Object.values(one.reports)) expect(existsSync(join(app, path)), path).toBe(true);

    await writeFile(join(app, 'test', 'cart.test.mjs'), cartTest(false, 600));
    const second = await exec(process.execPath, ['out/example.js', 'testudo.yaml'], app, env);
    expect(second.code, second.stderr).toBe(1);
    const two = JSON.parse(second.stdout) as ExampleOutput;
    expect(two.state).toBe('failed');
    expect(two.comparison?.base.runId).toBe(one.runId);
    expect(two.comparison?.newlyFailing).toHaveLength(1);
    expect(two.comparison?.newlyFailing[0]).toMatchObject({ suite: 'unit', id: expect.stringMatching(/::cart adds$/) as string, before: 'passed', after: 'failed' });
    expect(two.comparison?.newlyFailing[0]?.message).toContain('cart total\nwas wrong');
    expect(two.comparison?.durationChanges[0]).toMatchObject({ id: expect.stringMatching(/::slow one$/) as string });
    expect(two.comparison!.durationChanges[0]!.deltaSec).toBeGreaterThan(0.3);

    const html = await readFile(join(app, two.reports['html']!), 'utf8');
    expect(html).toContain('<h2>Timeline</h2>');
    expect(html).toMatch(/href="http:\/\/127\.0\.0\.1:\d+\/logs\//);

    // The command line (a real process) compares the same two runs: JSON on stdout, one document.
    const cli = await runCli(['runs', 'compare', one.runId, two.runId, '--json', '--coordinators', endpoints]);
    expect(cli.code, cli.stderr.toString()).toBe(0);
    const fromCli = JSON.parse(cli.stdout.toString()) as RunComparison;
    expect(fromCli.newlyFailing).toEqual(two.comparison?.newlyFailing);
    const text = await cliInProcess(['runs', 'compare', one.runId, two.runId, '--coordinators', endpoints]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/newly failing \(1\):\n {2}unit {2}test\/cart\.test\.mjs::cart adds {2}\(passed -> failed\): cart total was wrong/);
  }, 120_000);

  it('runs compare: an unknown run id is exit 1 (as for runs show), an unreachable cluster exit 3, a bad flag exit 2', async () => {
    const [unknown, unreachable, badTop] = await Promise.all([
      cliInProcess(['runs', 'compare', 'r-nope', 'r-nope2', '--coordinators', endpoints]),
      cliInProcess(['runs', 'compare', 'r-a', 'r-b', '--coordinators', '127.0.0.1:1', '--wait', '1000']),
      cliInProcess(['runs', 'compare', 'r-a', 'r-b', '--top', 'many', '--coordinators', endpoints]),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/no run r-nope2? in the cluster/);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stdout).toBe('');
    expect(unreachable.stderr).toContain('127.0.0.1:1');
    expect(badTop.code).toBe(2);
    expect(badTop.stderr).toContain('--top');
  }, 60_000);
});
