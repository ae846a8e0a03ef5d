import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { testudoCommand } from '../../src/cluster/local-cluster.js';

/**
 * `testudo … | head`: the reader closes the pipe before the command has
 * written. The command writes nothing more and ends with its own exit code,
 * with no stack trace on stderr.
 */
function runWithClosedStdout(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const [cmd, prefix] = testudoCommand();
  const child = spawn(cmd, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Closed before the program has started, so its first write finds no reader (EPIPE).
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('a command whose reader has gone', () => {
  it('ends with exit 0 after --help, quietly', async () => {
    const { code, stderr } = await runWithClosedStdout(['--help']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('ends with exit 0 after a command that writes its result when its work is done', async () => {
    const { code, stderr } = await runWithClosedStdout(['bench', 'kv-machine', '--puts', '2000']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
