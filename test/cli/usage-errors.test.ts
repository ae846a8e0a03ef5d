// Every command refuses a bad flag value with exit 2 and a message on stderr
// that names the flag and the value, run as a real process.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { repoRoot, runCli } from './cli-process.js';
import { endpointListFlag, integerFlag, listenFlag } from '../../src/cli/flags.js';
import { UsageError } from '../../src/cli/errors.js';

const spec = join(repoRoot, 'examples', 'testudo.yaml');

interface Case {
  readonly args: readonly string[];
  /** Every one of these appears in stderr. */
  readonly says: readonly string[];
  readonly env?: Record<string, string | undefined>;
}

const badEndpoints: Case[] = [
  { args: ['run', '-f', spec, '--coordinators', 'foo'], says: ['--coordinators', '"foo"', 'host:port'] },
  { args: ['runs', 'list', '--coordinators', '127.0.0.1:notaport'], says: ['--coordinators', '"127.0.0.1:notaport"'] },
  { args: ['runs', 'list', '--coordinators', ''], says: ['--coordinators', 'at least one host:port'] },
  { args: ['runs', 'show', 'r1', '--coordinators', '127.0.0.1:99999'], says: ['--coordinators', '99999', '1..65535'] },
  { args: ['workers', 'list', '--coordinators', '127.0.0.1:0'], says: ['--coordinators', '"127.0.0.1:0"'] },
  { args: ['runs', 'list'], env: { TESTUDO_COORDINATORS: 'bad' }, says: ['TESTUDO_COORDINATORS', '"bad"'] },
  { args: ['kv', 'get', 'k', '--coordinators', 'foo'], says: ['--coordinators', '"foo"'] },
  { args: ['cluster', 'status', '--coordinators', '127.0.0.1:notaport'], says: ['--coordinators', '"127.0.0.1:notaport"'] },
  { args: ['cluster', 'add-member', '--id', 'n4', '--address', 'foo', '--coordinators', '127.0.0.1:7001'], says: ['--address', '"foo"'] },
  { args: ['snapshot', 'save', 'x.snap', '--coordinators', 'foo'], says: ['--coordinators', '"foo"'] },
  { args: ['up', '--coordinators', '127.0.0.1:7001'], says: ['--replicas <n>'] },
  { args: ['worker', '--coordinators', 'foo'], says: ['--coordinators', '"foo"'] },
  { args: ['bench', 'raft', '--coordinators', 'foo'], says: ['--coordinators', '"foo"'] },
  { args: ['drill', 'failover', '--coordinators', '127.0.0.1:0'], says: ['--coordinators', '"127.0.0.1:0"'] },
];

const badNumbers: Case[] = [
  { args: ['worker', '--coordinators', '127.0.0.1:7001', '--slots', '0x4'], says: ['--slots', '"0x4"'] },
  { args: ['worker', '--coordinators', '127.0.0.1:7001', '--outbox-sync-ms', '-1'], says: ['--outbox-sync-ms', '"-1"', '0 to 60000'] },
  { args: ['worker', '--coordinators', '127.0.0.1:7001', '--outbox-sync-ms', '60001'], says: ['--outbox-sync-ms', '"60001"'] },
  { args: ['worker', '--coordinators', '127.0.0.1:7001', '--http', '127.0.0.1:99999'], says: ['--http', '"127.0.0.1:99999"'] },
  { args: ['worker', '--coordinators', '127.0.0.1:7001', '--labels', 'os=windows'], says: ['--labels', 'os', process.platform] },
  { args: ['up', '--workers', '65'], says: ['--workers', '"65"', '0 to 64'] },
  { args: ['up', '--base-port', '99999'], says: ['--base-port', '"99999"'] },
  { args: ['demo', '--workers', '0'], says: ['--workers', '"0"'] },
  { args: ['kv', 'list', '--limit', '1e3', '--endpoints', '127.0.0.1:7001'], says: ['--limit', '"1e3"'] },
  { args: ['raft', 'inspect', repoRoot, '--node-id', 'n1', '--entries', 'many'], says: ['--entries', '"many"'] },
  { args: ['bench', 'schedule', '--trace-dir', join(repoRoot, 'examples')], says: ['--trace-dir', 'examples', 'is not empty'] },
  { args: ['bench', 'raft', '--clients', '2', '--trace-dir', join(repoRoot, 'no-such-trace-dir')], says: ['--trace-dir', '--clients 1'] },
];

/** Two at a time: each child is a node process compiling TypeScript. */
async function inPairs<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 2) out.push(...(await Promise.all(items.slice(i, i + 2).map(fn))));
  return out;
}

async function expectUsageErrors(cases: readonly Case[]): Promise<void> {
  const outcomes = await inPairs(cases, (c) => runCli(c.args, { TESTUDO_ENDPOINTS: undefined, TESTUDO_COORDINATORS: undefined, ...c.env }));
  for (const [i, c] of cases.entries()) {
    const o = outcomes[i]!;
    const stderr = o.stderr.toString('utf8');
    const label = `testudo ${c.args.join(' ')} → code ${o.code}, stderr ${JSON.stringify(stderr)}, stdout ${JSON.stringify(o.stdout.toString('utf8'))}`;
    expect(o.code, label).toBe(2);
    expect(o.stdout.toString('utf8'), label).toBe('');
    for (const text of c.says) expect(stderr, label).toContain(text);
    expect(stderr.split('\n').filter((l) => l !== '').length, label).toBe(1);
  }
}

describe('usage errors exit 2 with the flag and the value on stderr (real processes)', () => {
  it('bad --coordinators / TESTUDO_COORDINATORS values, in every command that takes them', async () => {
    await expectUsageErrors(badEndpoints);
  }, 600_000);

  it('bad counts, ports, labels and a trace directory in use', async () => {
    await expectUsageErrors(badNumbers);
  }, 600_000);
});

describe('flag parsers', () => {
  it('endpointListFlag keeps order, drops duplicates, accepts IPv6 and names the flag on a refusal', () => {
    expect(endpointListFlag('--coordinators', ' a:1, b:2 ,a:1,[::1]:7001')).toEqual(['a:1', 'b:2', '[::1]:7001']);
    expect(() => endpointListFlag('--coordinators', 'a:1,b')).toThrow(/^--coordinators: endpoint "b" is not "host:port"/);
    expect(() => endpointListFlag('--x', 'a:65536')).toThrow(UsageError);
    expect(() => endpointListFlag('--x', Array.from({ length: 65 }, (_, i) => `h${i}:1`).join(','))).toThrow(/at most 64/);
  });

  it('integerFlag is strict decimal within its bounds', () => {
    expect(integerFlag('--n', '0', 0, 5)).toBe(0);
    expect(integerFlag('--n', '5', 0, 5)).toBe(5);
    for (const bad of ['', ' 1', '1 ', '+1', '-1', '1.0', '1e1', '0x1', '6', 'NaN', '99999999999999999']) {
      expect(() => integerFlag('--n', bad, 0, 5), bad).toThrow(UsageError);
    }
  });

  it('listenFlag strips IPv6 brackets and allows port 0 only when asked', () => {
    expect(listenFlag('--http', '[::1]:0', true)).toEqual({ host: '::1', port: 0 });
    expect(listenFlag('--http', 'localhost:8080', false)).toEqual({ host: 'localhost', port: 8080 });
    expect(() => listenFlag('--http', '127.0.0.1:0', false)).toThrow(/--http/);
    expect(() => listenFlag('--http', ':80', true)).toThrow(/--http/);
  });

  it('quotes a refused value with its control characters escaped', () => {
    expect(() => endpointListFlag('--c', 'a\u001b[2J:1')).toThrow(UsageError);
    expect(() => integerFlag('--n', '\u001b[2J', 0, 1)).toThrow(new UsageError('--n must be an integer from 0 to 1, got "\\u001b[2J"'));
  });
});
