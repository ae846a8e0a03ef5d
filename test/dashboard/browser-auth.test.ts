import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { HubLimits } from '../../src/dashboard/hub.js';
import type { DashboardAuthVerdict } from '../../src/dashboard/server.js';
import { registration } from '../coordinator/orchestrator-fixtures.js';
import { chromiumPath } from './browser.js';
import { serveDashboard, stopDashboards } from './fixture.js';

/**
 * The page's sign-in and its polling fallback, in headless chromium, against
 * a real HTTP server and state machine in this process (test/dashboard/fixture.ts):
 * the token check is the dashboard's `authorize` hook (the coordinator's
 * token check plugs in there), and a coordinator whose streams are all taken
 * answers 503.
 */

declare const document: { readonly body: { readonly dataset: Record<string, string | undefined> } };

const token = 'ro-0123456789abcdef';

async function serve(limits: Partial<HubLimits>, authorize?: (presented: string) => DashboardAuthVerdict): Promise<string> {
  const fixture = await serveDashboard({ limits, ...(authorize === undefined ? {} : { authorize }) });
  fixture.apply(registration('w-auth', { name: 'auth-worker' }));
  return `${fixture.base}/`;
}

describe('dashboard sign-in and fallback in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stopDashboards();
  });

  it('is refused without a token, signs in with one sent in a header, and never puts it in a URL', async () => {
    const url = await serve({}, (presented) => (presented === '' ? { ok: false, status: 401, message: 'a token is needed' } : presented === token ? { ok: true } : { ok: false, status: 403, message: 'unknown token' }));
    const page = await browser.newPage();
    const requests: { url: string; authorization: string | undefined; status: number }[] = [];
    page.on('response', (response) => requests.push({ url: response.url(), authorization: response.request().headers()['authorization'], status: response.status() }));
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset['stream'] === 'auth', null, { timeout: 10_000 });
    expect(await page.isVisible('#login')).toBe(true);
    expect(requests.find((r) => r.url.endsWith('/api/dashboard/snapshot'))?.status).toBe(401);
    // Nothing of the cluster is shown before signing in.
    await page.click('#tab-workers');
    expect(await page.locator('#workers tbody tr[data-worker]').count()).toBe(0);

    await page.fill('#token', 'wrong-token');
    await page.press('#token', 'Enter');
    await page.waitForFunction(() => document.body.dataset['stream'] === 'auth', null, { timeout: 10_000 });
    await page.locator('#login-error', { hasText: 'refused' }).waitFor({ timeout: 10_000 });

    await page.fill('#token', token);
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(() => document.body.dataset['stream'] === 'live', null, { timeout: 10_000 });
    await page.locator('#workers tr[data-worker="w-auth"]').waitFor({ timeout: 10_000 });
    expect(await page.isVisible('#login')).toBe(false);
    const data = requests.filter((r) => r.url.includes('/api/dashboard/') && r.status === 200);
    expect(data.length).toBeGreaterThan(0);
    for (const r of data) expect(r.authorization).toBe(`Bearer ${token}`);
    for (const r of requests) expect(r.url).not.toContain(token);
    await page.close();
  });

  it('falls back to polling the snapshot when the coordinator refuses the stream (503)', async () => {
    const url = await serve({ streamsMax: 0 });
    const page = await browser.newPage();
    const refused: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/api/dashboard/events')) refused.push(response.status());
    });
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset['stream'] === 'polling', null, { timeout: 10_000 });
    expect(refused).toEqual([503]);
    await page.click('#tab-workers');
    await page.locator('#workers tr[data-worker="w-auth"]').waitFor({ timeout: 10_000 });
    expect(await page.textContent('#stream-status')).toContain('polling');
    await page.close();
  });
});
