import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { HubLimits } from '../../src/dashboard/hub.js';
import type { DashboardAuthVerdict } from '../../src/dashboard/server.js';
import { registration } from '../coordinator/orchestrator-fixtures.js';
import { chromiumPath } from './browser.js';
import { serveDashboard, stopDashboards } from './fixture.js';

/**
 * The page's sign-in, its polling fallback and its charts' drawing, in
 * headless chromium, against a real HTTP server and state machine in this
 * process (test/dashboard/fixture.ts): the token check is the dashboard's
 * `authorize` hook (the coordinator's token check plugs in there), a
 * coordinator whose streams are all taken answers 503, and the test decides
 * which samples the hub holds.
 */

declare const document: { readonly body: { readonly dataset: Record<string, string | undefined> } };

const token = 'ro-0123456789abcdef';

async function serve(limits: Partial<HubLimits>, authorize?: (presented: string) => DashboardAuthVerdict): Promise<string> {
  const fixture = await serveDashboard({ limits, ...(authorize === undefined ? {} : { authorize }) });
  fixture.apply(registration('w-auth', { name: 'auth-worker' }));
  return `${fixture.base}/`;
}

describe('dashboard in a browser, served in this process', () => {
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

  // A leader that committed proposals in one second of samples only has one
  // point per commit-latency series, which a polyline of one point draws as
  // nothing (CI once saw the chart's axes with no mark on them).
  it('shows a series of a single sample as a visible mark', async () => {
    const fixture = await serveDashboard({ limits: { probeIntervalMs: 100 } });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${fixture.base}/`);
      await page.click('#tab-charts');
      // The hub samples only while a page watches: one second's worth of commits, then none.
      await page.locator('#charts figure[data-chart="commit-latency"]', { hasText: 'no proposal committed here yet' }).waitFor({ timeout: 10_000 });
      fixture.dashboard.hub.observeCommitLatency(0.004);
      fixture.dashboard.hub.observeCommitLatency(0.012);
      const chart = page.locator('#charts figure[data-chart="commit-latency"] svg');
      await chart.waitFor({ timeout: 10_000 });
      expect(await chart.getAttribute('aria-label')).toMatch(/^Commit latency: now median [\d.]+ ms, 99th percentile [\d.]+ ms/);
      // Read in one go in the page: a patch redraws the chart.
      const areas = await page.$$eval('#charts figure[data-chart="commit-latency"] svg :is(polyline, circle)', (marks) =>
        marks.map((mark) => {
          const box = mark.getBoundingClientRect();
          return box.width * box.height;
        }),
      );
      expect(areas).toHaveLength(2);
      for (const area of areas) expect(area).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });
});
