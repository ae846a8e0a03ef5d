import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { testudoCommand } from '../../../src/cluster/local-cluster.js';
import { connect, startEcho } from './helpers.js';

/** Runs `testudo toxiproxy …`; resolves with the URL it prints. */
function startCli(args: string[]): { url: Promise<string>; exit: Promise<{ code: number | null; output: string }>; stop: () => void } {
  const [command, prefix] = testudoCommand();
  const child = spawn(command, [...prefix, 'toxiproxy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let found: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (found = resolve));
  const onData = (b: Buffer): void => {
    output += b.toString();
    const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (m?.[1] !== undefined) found(m[1]);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exit = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    }),
  );
  return { url, exit, stop: () => child.kill('SIGTERM') };
}

describe('testudo toxiproxy', () => {
  it('serves the API a real client drives, and stops on SIGTERM closing its proxies', async () => {
    const echo = await startEcho();
    const cli = startCli(['--listen', '127.0.0.1:0', '--seed', '7']);
    try {
      const client = new Toxiproxy(await cli.url);
      expect(JSON.parse(await client.getVersion())).toEqual({ version: '2.12.0' });
      const proxy = await client.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: echo.address });
      const probe = await connect(proxy.listen);
      probe.socket.write('ping');
      await probe.waitBytes(4);
      expect(probe.text()).toBe('ping');
      cli.stop();
      const { code, output } = await cli.exit;
      expect(code).toBe(0);
      expect(output).toMatch(/every proxy and connection closed/);
      await probe.closed;
    } finally {
      cli.stop();
      await echo.close();
    }
  }, 60_000);

  it('refuses a malformed --listen with a clear error', async () => {
    const cli = startCli(['--listen', 'nope']);
    const { code, output } = await cli.exit;
    expect(code).not.toBe(0);
    expect(output).toMatch(/--listen: address nope: missing port in address/);
  }, 60_000);
});
