import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { AlertSender, alertsQueuedMax } from '../../src/coordinator/alerts.js';

const quiet = pino({ level: 'silent' });

describe('AlertSender', () => {
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
    server = null;
  });

  async function listen(handler: (body: string) => number): Promise<string> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.writeHead(handler(body)).end());
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  it('POSTs Slack-compatible JSON ({"text": …}) in order', async () => {
    const got: string[] = [];
    const url = await listen((body) => {
      got.push(body);
      return 200;
    });
    const outcomes: boolean[] = [];
    const sender = new AlertSender(url, quiet, (ok) => outcomes.push(ok));
    sender.send('worker w1 is quarantined');
    sender.send('run r1 is degraded');
    for (let i = 0; i < 100 && outcomes.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got.map((b) => JSON.parse(b) as unknown)).toEqual([{ text: 'worker w1 is quarantined' }, { text: 'run r1 is degraded' }]);
    expect(outcomes).toEqual([true, true]);
  });

  it('never throws or blocks on a failing webhook, and bounds its queue', async () => {
    const url = await listen(() => 500);
    const outcomes: boolean[] = [];
    const sender = new AlertSender(url, quiet, (ok) => outcomes.push(ok));
    for (let i = 0; i < alertsQueuedMax + 50; i++) sender.send(`alert ${i}`);
    for (let i = 0; i < 200 && outcomes.length < alertsQueuedMax + 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(outcomes.every((ok) => !ok)).toBe(true);
    // The first went out at once; of the rest only the newest alertsQueuedMax were kept.
    expect(outcomes.length).toBe(alertsQueuedMax + 1);
    sender.stop();
  });

  it('sends nothing without a URL', () => {
    const sender = new AlertSender('', quiet, () => {
      throw new Error('no call expected');
    });
    sender.send('x');
  });
});
