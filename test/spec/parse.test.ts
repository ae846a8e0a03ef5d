import { describe, expect, it } from 'vitest';
import {
  SPEC_LIMITS,
  SpecError,
  SpecValidationError,
  defaultCacheKey,
  expandEnvReferences,
  loadSpec,
  suggestKey,
} from '../../src/spec/index.js';
import { parse, parseErrors, withTempDir } from './helpers.js';

const MINIMAL = 'name: demo\nsuites:\n  - name: unit\n    command: npm test\n';

describe('parseSpecText', () => {
  it('applies the defaults', () => {
    const { spec, warnings } = parse(MINIMAL);
    expect(warnings).toEqual([]);
    expect(spec.name).toBe('demo');
    expect(spec.setup).toEqual({ commands: [], cacheKey: defaultCacheKey([]) });
    expect(spec.env).toEqual({});
    const suite = spec.suites[0];
    expect(suite).toMatchObject({
      name: 'unit',
      command: 'npm test',
      cwd: '.',
      files: [],
      shards: 1,
      shardBy: 'count',
      requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
      priority: 0,
      timeoutSec: 600,
      retries: 0,
      exclusive: false,
      env: {},
      matrix: [],
    });
  });

  it('reads every field', () => {
    const { spec } = parse(`
name: full
setup:
  commands: ["npm ci", "npm run build"]
  cacheKey: fixed
env: { A: 1, B: true, C: x }
suites:
  - name: e2e.chrome_1
    command: run
    cwd: ./packages/web/
    files: ["test/**/*.test.js", "!test/skip/**"]
    shards: { count: 4, by: timings }
    requirements: { os: linux, arch: x64, region: eu-west-1, browser: chromium, cpus: 2, memoryMb: 1024, tools: [node, docker, node], gpu: true }
    priority: -5
    timeoutSec: 86400
    retries: 10
    exclusive: true
    env: { VERSION: 1.10 }
    matrix: { node: [20, 22], locale: [en] }
`);
    expect(spec.setup).toEqual({ commands: ['npm ci', 'npm run build'], cacheKey: 'fixed' });
    expect(spec.env).toEqual({ A: '1', B: 'true', C: 'x' });
    expect(spec.suites[0]).toMatchObject({
      name: 'e2e.chrome_1',
      cwd: 'packages/web',
      files: ['test/**/*.test.js', '!test/skip/**'],
      shards: 4,
      shardBy: 'timings',
      requirements: {
        labels: { os: 'linux', arch: 'x64', region: 'eu-west-1', browser: 'chromium', gpu: 'true' },
        cpus: 2,
        memoryMb: 1024,
        tools: ['docker', 'node'],
      },
      priority: -5,
      timeoutSec: 86400,
      retries: 10,
      exclusive: true,
      env: { VERSION: '1.10' },
      matrix: [
        { name: 'node', values: ['20', '22'] },
        { name: 'locale', values: ['en'] },
      ],
    });
  });

  it('accepts setup as a plain list, with the sha256 of the commands as cache key', () => {
    const { spec } = parse(`name: x\nsetup: ["npm ci"]\nsuites: [{name: a, command: b}]\n`);
    expect(spec.setup.commands).toEqual(['npm ci']);
    expect(spec.setup.cacheKey).toBe(defaultCacheKey(['npm ci']));
    expect(spec.setup.cacheKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports a wrong type with line, column, field and what was expected', () => {
    const err = parseErrors(`name: x
suites:
  - name: a
    command: b
  - name: c
    command: d
    shards: three
`);
    expect(err.errors).toHaveLength(1);
    const e = err.errors[0];
    expect(e).toBeInstanceOf(SpecError);
    expect(e).toMatchObject({ file: 'testudo.yaml', line: 7, column: 13, field: 'suites[1].shards', expected: 'an integer from 1 to 1000' });
    expect(e?.message).toBe('testudo.yaml:7:13: suites[1].shards: expected an integer from 1 to 1000, got "three"');
    expect(err.message).toContain(e?.message);
    // The aggregate is itself a SpecError located at the first problem.
    expect(err).toBeInstanceOf(SpecError);
    expect(err.line).toBe(7);
  });

  it('collects every error, sorted by position', () => {
    const err = parseErrors(`name: ""
suites:
  - name: "bad name"
    command: x
    priority: 1001
    timeoutSec: 0
    retries: 11
    exclusive: yes
    shards: { count: 0, by: speed }
  - command: y
`);
    expect(err.errors.map((e) => [e.line, e.field])).toEqual([
      [1, 'name'],
      [3, 'suites[0].name'],
      [5, 'suites[0].priority'],
      [6, 'suites[0].timeoutSec'],
      [7, 'suites[0].retries'],
      [8, 'suites[0].exclusive'],
      [9, 'suites[0].shards.count'],
      [9, 'suites[0].shards.by'],
      [10, 'suites[1].name'],
    ]);
    expect(err.errors[8]?.message).toBe('testudo.yaml:10:5: suites[1].name: missing required key "name"');
    expect(err.message).toMatch(/^invalid spec testudo\.yaml \(9 errors\):\n/);
  });

  it('stops after 50 errors', () => {
    const suites = Array.from({ length: 60 }, (_, i) => `  - {name: s${i}, command: x, retries: -1}`).join('\n');
    const err = parseErrors(`name: x\nsuites:\n${suites}\n`);
    expect(err.errors).toHaveLength(50);
    expect(err.truncated).toBe(true);
  });

  it('rejects unknown keys with a did-you-mean suggestion', () => {
    const err = parseErrors(`name: x
suites:
  - name: a
    command: b
    shrads: 3
    timeout: 5
    zzzzzz: 1
`);
    expect(err.errors.map((e) => e.message)).toEqual([
      'testudo.yaml:5:5: suites[0].shrads: unknown key "shrads" (did you mean "shards"?)',
      expect.stringMatching(/^testudo\.yaml:6:5: suites\[0\]\.timeout: unknown key "timeout" \(known keys: name, command/),
      expect.stringMatching(/^testudo\.yaml:7:5: suites\[0\]\.zzzzzz: unknown key "zzzzzz" \(known keys:/),
    ]);
    expect(parseErrors('nme: x\nsuites: [{name: a, command: b}]\n').errors[0]?.message).toContain('(did you mean "name"?)');
    expect(parseErrors(`${MINIMAL}    requirements: {cpu: 2}\n`).errors[0]?.message).toContain(
      'suites[0].requirements.cpu: unknown key "cpu" (did you mean "cpus"?)',
    );
  });

  it('suggests only within edit distance 2', () => {
    expect(suggestKey('comand', ['command', 'cwd'])).toBe('command');
    expect(suggestKey('Shards', ['shards'])).toBe('shards');
    expect(suggestKey('timeout', ['timeoutSec'])).toBeUndefined();
  });

  it('rejects duplicated keys and duplicated suite names', () => {
    const err = parseErrors(`name: x
name: y
suites:
  - name: a
    command: b
    env: { A: 1, A: 2 }
  - name: a
    command: c
`);
    expect(err.errors.map((e) => e.message)).toEqual([
      'testudo.yaml:2:1: name: duplicated key "name" (first set on line 1)',
      'testudo.yaml:6:18: suites[0].env.A: duplicated key "A" (first set on line 6)',
      'testudo.yaml:7:5: suites[1].name: duplicated suite name "a" (first on line 4)',
    ]);
  });

  it('turns YAML syntax errors into located SpecErrors', () => {
    const err = parseErrors('name: x\nsuites: [\n  {name: a\n');
    expect(err.errors.length).toBeGreaterThan(0);
    expect(err.errors[0]?.line).toBeGreaterThan(1);
    expect(err.errors[0]?.message).toMatch(/^testudo\.yaml:\d+:\d+: YAML syntax error: /);
    expect(parseErrors('a: b: c\n').errors[0]?.message).toMatch(/^testudo\.yaml:1:\d+: YAML syntax error/);
  });

  it('rejects an empty or non-mapping document', () => {
    expect(parseErrors('').errors[0]?.message).toBe('testudo.yaml:1:1: the spec is empty');
    expect(parseErrors('- a\n').errors[0]?.message).toBe('testudo.yaml:1:1: expected a mapping, got a list');
    expect(parseErrors('name: x\n').errors[0]?.field).toBe('suites');
    expect(parseErrors('name: x\nsuites: []\n').errors[0]?.message).toBe(
      'testudo.yaml:2:9: suites: expected a list of 1 to 1000 suites, got 0',
    );
  });

  it('validates env names and values', () => {
    const err = parseErrors(`name: x
env: { "1A": x, TESTUDO_FILES: y, OK: [1] }
suites: [{name: a, command: b}]
`);
    expect(err.errors.map((e) => e.field)).toEqual(['env["1A"]', 'env.TESTUDO_FILES', 'env.OK']);
    expect(err.errors[2]?.message).toBe('testudo.yaml:2:39: env.OK: expected a string, number or boolean, got a list');
  });

  it('validates the matrix', () => {
    const err = parseErrors(`${MINIMAL}    matrix: { a: [], b: [1, 1], c: x, "d-e": [1] }\n`);
    expect(err.errors.map((e) => e.field)).toEqual([
      'suites[0].matrix.a',
      'suites[0].matrix.b[1]',
      'suites[0].matrix.c',
      'suites[0].matrix["d-e"]',
    ]);
    const axis = Array.from({ length: 17 }, (_, i) => i).join(', ');
    const big = parseErrors(`${MINIMAL}    matrix: { a: [${axis}], b: [${axis}] }\n`);
    expect(big.errors[0]?.message).toContain('expected at most 256 matrix cells, got 289 (17 × 17)');
  });

  it('warns when requirements override a matrix label key', () => {
    const { warnings } = parse(`${MINIMAL}    requirements: { region: eu-west-1 }\n    matrix: { region: [a, b] }\n`);
    expect(warnings).toEqual([expect.stringContaining('suites[0].matrix.region: requirements.region is set explicitly')]);
  });

  it('warns about shards without files when the command ignores TESTUDO_SHARD', () => {
    expect(parse(`${MINIMAL}    shards: 3\n`).warnings).toEqual([expect.stringContaining('suites[0].shards: 3 shards without files')]);
    expect(parse(`name: x\nsuites: [{name: a, command: 'run --shard=$TESTUDO_SHARD', shards: 3}]\n`).warnings).toEqual([]);
  });

  it('follows YAML aliases', () => {
    const { spec } = parse(`name: x
env: &common { A: "1" }
suites:
  - { name: a, command: b, env: *common }
`);
    expect(spec.suites[0]?.env).toEqual({ A: '1' });
  });
});

describe('setup.cacheKey', () => {
  const spec = (key: string) => `name: x\nsetup: { commands: [a], cacheKey: "${key}" }\nsuites: [{name: a, command: b}]\n`;

  it('expands ${VAR} and ${VAR:-default} from the given env', () => {
    expect(parse(spec('${GIT_COMMIT:-dev}'), {}).spec.setup.cacheKey).toBe('dev');
    expect(parse(spec('${GIT_COMMIT:-dev}'), { GIT_COMMIT: '' }).spec.setup.cacheKey).toBe('dev');
    expect(parse(spec('${GIT_COMMIT:-dev}'), { GIT_COMMIT: 'abc123' }).spec.setup.cacheKey).toBe('abc123');
    expect(parse(spec('v1-${BRANCH}-${GIT_COMMIT}'), { BRANCH: 'main', GIT_COMMIT: 'abc' }).spec.setup.cacheKey).toBe('v1-main-abc');
    expect(parse(spec('$$HOME-$HOME'), { HOME: '/root' }).spec.setup.cacheKey).toBe('$HOME-$HOME');
  });

  it('rejects unset variables without a default and malformed references', () => {
    const err = parseErrors(spec('${GIT_COMMIT}-${1x}'), {});
    expect(err.errors.map((e) => e.message)).toEqual([
      'testudo.yaml:2:35: setup.cacheKey: environment variable GIT_COMMIT is not set (use ${GIT_COMMIT:-default} to give a default)',
      'testudo.yaml:2:35: setup.cacheKey: malformed reference "${1x}" (use ${NAME} or ${NAME:-default})',
    ]);
    expect(parseErrors(spec('${EMPTY:-}'), {}).errors[0]?.message).toContain('expands to an empty string');
  });

  it('distinguishes ${VAR-default} (unset only)', () => {
    expect(expandEnvReferences('${A-x}', { A: '' }).value).toBe('');
    expect(expandEnvReferences('${A-x}', {}).value).toBe('x');
    expect(expandEnvReferences('${A', {}).problems).toHaveLength(1);
  });
});

describe('size limits', () => {
  it('rejects a file over 1 MiB', () => {
    const text = `${MINIMAL}# ${'x'.repeat(SPEC_LIMITS.maxFileBytes)}\n`;
    const err = parseErrors(text);
    expect(err.errors[0]?.message).toBe(
      `testudo.yaml: expected a file of at most 1048576 bytes (1 MiB), got ${Buffer.byteLength(text)} bytes`,
    );
  });

  it('rejects more than 50,000 tasks when it is certain at parse time', () => {
    const suites = Array.from({ length: 51 }, (_, i) => `  - {name: s${i}, command: 'x $TESTUDO_SHARD', shards: 1000}`).join('\n');
    const err = parseErrors(`name: x\nsuites:\n${suites}\n`);
    expect(err.errors[0]).toMatchObject({ line: 3, field: 'suites' });
    expect(err.errors[0]?.message).toContain('expected at most 50000 tasks in total, got 51000');
  });

  it('rejects more than 1000 suites', () => {
    const suites = Array.from({ length: 1001 }, (_, i) => `  - {name: s${i}, command: x}`).join('\n');
    expect(parseErrors(`name: x\nsuites:\n${suites}\n`).errors[0]?.message).toContain('got 1001');
  });
});

describe('loadSpec', () => {
  it('reads a file and sets sourceDir to its directory', async () => {
    await withTempDir({ 'ci/testudo.yaml': MINIMAL }, async (dir) => {
      const parsed = await loadSpec(`${dir}/ci/testudo.yaml`, { env: {} });
      expect(parsed.sourceDir).toBe(`${dir}/ci`);
      expect(parsed.spec.name).toBe('demo');
      // A directory means its testudo.yaml.
      expect((await loadSpec(`${dir}/ci`)).file).toBe(`${dir}/ci/testudo.yaml`);
    });
  });

  it('reports a missing file clearly', async () => {
    await withTempDir({}, async (dir) => {
      const error = await loadSpec(`${dir}/nope.yaml`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpecError);
      expect(error).not.toBeInstanceOf(SpecValidationError);
      expect((error as SpecError).message).toBe(`${dir}/nope.yaml: spec file not found (looked for ${dir}/nope.yaml)`);
    });
  });

  it('rejects an oversized file before reading it', async () => {
    await withTempDir({ 'big.yaml': `${MINIMAL}#${'x'.repeat(SPEC_LIMITS.maxFileBytes)}` }, async (dir) => {
      const error = await loadSpec(`${dir}/big.yaml`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpecValidationError);
      expect((error as SpecValidationError).errors[0]?.message).toContain('expected a file of at most 1048576 bytes');
    });
  });
});
