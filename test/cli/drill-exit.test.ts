// `bench raft` and `drill failover` on a cluster that never settles a
// leader: exit 3 (no leader / unreachable, docs/cli.md#exit-codes) with a
// line on stderr that says what was seen and what to try, nothing on
// stdout. Real processes of the CLI dialling a closed port; the case of a
// real cluster that lost its quorum is in test/integration/write-hold.test.ts.
import { describe, expect, it } from 'vitest';
import { ExitError, failureOf } from '../../src/cli/errors.js';
import { ClusterNotSettledError } from '../../src/bench/settle.js';
import { freePort } from '../../src/cluster/ports.js';
import { runCli, type CliOutcome } from './cli-process.js';

const cleanEnv = { TESTUDO_COORDINATORS: undefined, TESTUDO_ENDPOINTS: undefined, LOG_LEVEL: 'warn' };

function text(o: CliOutcome): { out: string; err: string; label: string } {
  const out = o.stdout.toString('utf8');
  const err = o.stderr.toString('utf8');
  return { out, err, label: `code ${o.code}\nstdout ${JSON.stringify(out)}\nstderr ${JSON.stringify(err)}` };
}

describe('a bench or drill whose cluster never settles a leader exits 3', () => {
  it('bench raft and drill failover on a closed port: exit 3, the address and --wait on stderr, stdout empty', async () => {
    const address = `127.0.0.1:${await freePort()}`; // reserved for this process, nobody listens on it
    const commands = [
      ['bench', 'raft', '--coordinators', address, '--ops', '10', '--warmup-ops', '0', '--wait', '500'],
      ['drill', 'failover', '--coordinators', address, '--mode', 'transfer', '--rounds', '1', '--wait', '500'],
    ];
    const outcomes = await Promise.all(commands.map((args) => runCli(args, cleanEnv)));
    for (const [i, o] of outcomes.entries()) {
      const { out, err, label } = text(o);
      const what = `testudo ${commands[i]!.join(' ')}: ${label}`;
      expect(o.code, what).toBe(3);
      expect(out, what).toBe('');
      expect(err, what).toContain(`testudo: no stable leader at ${address} within 0.5 s (last seen: `);
      expect(err, what).toContain('--wait MS waits longer');
      expect(err, what).not.toContain('unexpected error');
      expect(err, what).not.toMatch(/\b[A-Z][A-Za-z]*Error\b/);
    }
  }, 60_000);

  it('--wait is checked like every other number (exit 2), and only where it applies', async () => {
    const outcomes = await Promise.all([
      runCli(['bench', 'raft', '--coordinators', '127.0.0.1:7001', '--wait', '0'], cleanEnv),
      runCli(['drill', 'failover', '--workload', 'run', '--wait', '1000'], cleanEnv),
    ]);
    const [zero, misplaced] = outcomes.map(text);
    expect(outcomes[0]!.code, zero!.label).toBe(2);
    expect(zero!.err, zero!.label).toContain('--wait must be an integer from 1 to');
    expect(outcomes[1]!.code, misplaced!.label).toBe(2);
    expect(misplaced!.err, misplaced!.label).toContain('--wait is for --workload kv');
  }, 60_000);

  it('the error itself is not one the exit-code table knows: the command turns it into exit 3 (an unwrapped one would be exit 1)', () => {
    // Planted: were a command to let it through unwrapped, main would say "unexpected error" and exit 1.
    const raw = failureOf(new ClusterNotSettledError('no-leader', ['127.0.0.1:1'], 500, 'n1 unreachable'));
    expect(raw.code).toBe(1);
    expect(failureOf(new ExitError(3)).code).toBe(3);
  });
});
