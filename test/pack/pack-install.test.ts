// The package as a user gets it: `npm pack` the built tree (dist/ from
// `npm run build`, which CI runs before the tests), install the tarball into
// an empty folder from the npm cache (--offline; --prefer-offline when the
// cache has the tarballs that `npm ci` put there but not the registry's
// version lists), then run the installed `testudo` (help, a bench, a shipped chaos
// scenario, the demo, `up`), import the library from an ESM script, and compile
// the client example (examples/client.ts and the README's copy) against the
// installed package's types.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { repoRoot } from '../cli/cli-process.js';

/** Longest one command of this file may run before it is killed (the demo is the longest). */
const commandTimeoutMs = 120_000;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** This process's environment without npm's own variables (set when the tests run under `npm test`), which would steer the inner npm. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.toLowerCase().startsWith('npm_')) env[key] = value;
  return { ...env, ...extra };
}

/** Runs a command in its own process group; on timeout the whole group is killed. */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, commandTimeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function npm(args: readonly string[], cwd: string): Promise<Outcome> {
  return run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd);
}

let root: string;
let app: string;
let bin: string;
let tarball: string;
let packedFiles: string[];

beforeAll(async () => {
  for (const built of ['dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/bench/raft.js']) {
    if (!existsSync(join(repoRoot, built))) throw new Error(`${built} is missing: run \`npm run build\` before this test (CI does)`);
  }
  root = await mkdtemp(join(tmpdir(), 'testudo-pack-'));
  const packed = await npm(['pack', '--json', '--pack-destination', root], repoRoot);
  expect(packed.code, packed.stderr).toBe(0);
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  packedFiles = files.map((f) => f.path);
  tarball = join(root, filename);
  app = join(root, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), `${JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  let installed = await npm(['install', '--offline', tarball], app);
  if (installed.code !== 0 && installed.stderr.includes('ENOTCACHED')) {
    // `npm ci` caches the tarballs it installs but not the registry's version lists, which
    // resolving the package's ranges needs: then those (and only those) come from the registry.
    process.stderr.write('pack-install: the npm cache lacks version lists; installing with --prefer-offline\n');
    installed = await npm(['install', '--prefer-offline', tarball], app);
  }
  expect(installed.code, `npm install ${tarball}\n${installed.stderr}`).toBe(0);
  bin = join(app, 'node_modules', '.bin', 'testudo');
}, 180_000);

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships what the CLI reads at run time, and no tests or sources', () => {
    const paths = packedFiles;
    const needed = ['dist/src/cli/main.js', 'dist/src/bench/failover-drill.js', 'dist/src/index.d.ts', 'proto/testudo.proto', 'examples/testudo.yaml', 'chaos/scenarios/ci-short.yaml'];
    needed.push('chaos/workloads/synthetic-test.mjs', 'schema/testudo.schema.json', 'src/dashboard/static/index.html', 'src/dashboard/static/app.js');
    for (const file of needed) expect(paths).toContain(file);
    // The dashboard's page (plain browser files, no build step) is the only thing shipped from src/.
    const stray = paths.filter((p) => p.startsWith('dist/test/') || (p.startsWith('src/') && !p.startsWith('src/dashboard/static/')) || p.startsWith('test/') || p.endsWith('.map'));
    expect(stray).toEqual([]);
  });

  it('runs `testudo --help` and every command group from the installed package', async () => {
    const help = await run(bin, ['--help'], app);
    expect(help.code, help.stderr).toBe(0);
    for (const command of ['coordinator', 'up', 'worker', 'run', 'demo', 'bench', 'drill', 'chaos']) expect(help.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
    const bench = await run(bin, ['bench', 'kv-machine', '--puts', '200'], app);
    expect(bench.code, bench.stderr).toBe(0);
    expect(JSON.parse(bench.stdout.trim().split('\n').at(-1)!)).toMatchObject({ puts: 200 });
    // A shipped scenario, named relative to the package from another directory: it loads (the
    // bad --duration is refused after the scenario was read).
    const chaos = await run(bin, ['chaos', 'bench', '--scenario', 'chaos/scenarios/ci-short.yaml', '--duration', '1s'], app);
    expect(chaos.code).toBe(2);
    expect(chaos.stderr).toContain('--duration must be 10s..1h');
  });

  it('runs the demo to its end with exit 0', async () => {
    const reports = join(root, 'reports');
    const demo = await run(bin, ['demo', '--replicas', '3', '--workers', '2', '--worker-slots', '3', '--no-progress', '--report-dir', reports], app);
    expect(demo.code, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stderr).toContain('demo finished');
    expect(demo.stdout).toContain('run r-');
    const report = JSON.parse(await readFile(join(reports, 'testudo-report.json'), 'utf8')) as { name?: string };
    expect(report).toBeTypeOf('object');
  });

  it('imports the client and the spec loader from an ESM script, and talks to a cluster that `testudo up` started', async () => {
    const up = spawn(bin, ['up', '--base-port', '0', '--http-base-port', '0', '--workers', '1', '--data-dir', join(root, 'up')], { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    try {
      // The member lines come between the first line and the closing hint.
      const clusterId = await waitForText(() => (stdout.includes('\nTry: ') ? /coordinators are up \(cluster (\S+)\)/.exec(stdout)?.[1] : undefined), exited);
      const endpoints = [...stdout.matchAll(/^ {2}n\d+ {2}grpc (\S+)/gm)].map((m) => m[1]!);
      await writeFile(
        join(app, 'check.mjs'),
        [
          "import { TestudoClient, loadSpec, expandSpec, testudoVersion } from 'testudo';",
          "const spec = await loadSpec('node_modules/testudo/examples/testudo.yaml');",
          'const submission = await expandSpec(spec);',
          `const client = new TestudoClient({ endpoints: ${JSON.stringify(endpoints)}, totalTimeoutMs: 20000 });`,
          'const status = await client.clusterStatus();',
          'client.close();',
          'console.log(JSON.stringify({ testudoVersion, name: submission.name, tasks: submission.tasks.length, clusterIds: status.members.map((m) => m.clusterId) }));',
        ].join('\n'),
      );
      const check = await run(process.execPath, ['check.mjs'], app);
      expect(check.code, check.stderr).toBe(0);
      const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
      expect(JSON.parse(check.stdout)).toEqual({ testudoVersion: pkg.version, name: 'example', tasks: 10, clusterIds: [clusterId, clusterId, clusterId] });
    } finally {
      up.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it("compiles the client example and the README's copy against the installed package's types", async () => {
    const readmeBlocks = [...(await readFile(join(repoRoot, 'README.md'), 'utf8')).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((code) => code.includes("from 'testudo'"));
    expect(readmeBlocks.length, "README.md shows no ```ts block importing from 'testudo' (the client example, examples/client.ts)").toBeGreaterThan(0);
    const files = ['client.ts', ...readmeBlocks.map((_, i) => `readme-${i}.ts`)];
    await writeFile(join(app, 'client.ts'), await readFile(join(repoRoot, 'examples', 'client.ts'), 'utf8'));
    for (const [i, code] of readmeBlocks.entries()) await writeFile(join(app, `readme-${i}.ts`), code);
    // The check can fail: a planted misuse of the package's types, compiled in the same run, must be reported.
    await writeFile(join(app, 'planted.ts'), "import { TestudoClient } from 'testudo';\nexport const planted = new TestudoClient({ endpoints: 7001 });\n");
    const errors = (await compile([...files, 'planted.ts'])).split('\n').filter((line) => /error TS\d+/.test(line));
    expect(errors.filter((line) => !line.startsWith('planted.ts(2,')), 'the examples compile').toEqual([]);
    expect(errors.length, 'the planted misuse is reported').toBeGreaterThan(0);
  });
});

/** tsc from this repository on `files` in the app folder, strict, against the installed package's declarations; its output ('' when clean). */
async function compile(files: readonly string[]): Promise<string> {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      // The package's .d.ts are tsc's output; checking them and every dependency's would triple the time.
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(repoRoot, 'node_modules', '@types')],
    },
    files,
  };
  await writeFile(join(app, 'tsconfig.json'), `${JSON.stringify(config, null, 2)}\n`);
  const tsc = await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
  return tsc.code === 0 ? '' : tsc.stdout + tsc.stderr;
}

/** Polls `probe` until it gives a value, failing at once if the process exits first. */
async function waitForText<T>(probe: () => T | undefined, exited: Promise<number | null>): Promise<T> {
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  const deadline = Date.now() + commandTimeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (gone !== undefined) throw new Error(`the process exited (code ${gone}) before it said it was ready`);
    if (Date.now() > deadline) throw new Error(`not ready within ${commandTimeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
