import { spawnSync } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's chromium (`apt-get install -y chromium`); TESTUDO_CHROMIUM overrides it. */
export const chromiumPath = process.env['TESTUDO_CHROMIUM'] ?? '/usr/bin/chromium';

/** Where the browser tests keep their screenshots: TESTUDO_TEST_ARTIFACTS/dashboard, else a directory under the system temp dir. */
export function artifactsDir(): string {
  return join(process.env['TESTUDO_TEST_ARTIFACTS'] ?? join(tmpdir(), 'testudo-test-artifacts'), 'dashboard');
}

/**
 * Aborts every TCP connection to 127.0.0.1:`port` (`ss -K`, which needs
 * CAP_NET_ADMIN and a kernel with socket destroy): a real dropped connection.
 */
export function killConnectionsTo(port: number): void {
  const result = spawnSync('ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', `:${port}`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss -K failed: ${result.stderr}`);
}

/** Whether killConnectionsTo works here: tried on a connection of our own. */
export const canKillSockets: boolean = await new Promise<boolean>((resolve) => {
  const server = createServer((socket) => socket.on('error', () => undefined));
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1', () => {
      try {
        killConnectionsTo(port);
      } catch {
        finish(false);
      }
    });
    const timer = setTimeout(() => finish(false), 2000);
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    function finish(ok: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      server.close();
      resolve(ok);
    }
  });
});
