import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { ChaosCluster } from '../../src/failure-injection/chaos-cluster.js';
import { FaultInjector } from '../../src/failure-injection/injector.js';
import { createPrng } from '../../src/failure-injection/toxiproxy/index.js';
import { decodeFaultRecord, faultRecordPrefix } from '../../src/model/index.js';
import { clientFor, runTestudo, stableLeader, waitFor } from '../integration/harness.js';
import { sleepRun } from '../integration/runs-harness.js';
import { artifactsDir, canKillSockets, chromiumPath, killConnectionsTo } from './browser.js';

/** What the page functions below touch of the browser's DOM (they run in the page, not in Node). */
interface PageElement {
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
}
declare const document: {
  readonly body: { readonly dataset: Record<string, string | undefined> };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): { readonly length: number };
};

/** The page's first stream request after `before` resumed from an id of the same stream, at or after `before`. */
function expectResumedAfter(ids: readonly (string | undefined)[], before: string): void {
  const resumed = ids.find((id) => id !== undefined);
  expect(resumed, 'a stream request with Last-Event-ID').toBeDefined();
  const [boot, seq] = resumed!.split('-');
  expect(boot).toBe(before.split('-')[0]);
  expect(Number(seq)).toBeGreaterThanOrEqual(Number(before.split('-')[1]));
}

/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by
 * playwright-core) against a real local cluster of three coordinator
 * processes and two workers, its Raft links through the chaos module's fault
 * proxies (a ChaosCluster) so that a case can inject a real fault. One
 * cluster for the whole file; the case that kills the leader runs last.
 */
describe('dashboard in a browser', () => {
  let chaos: ChaosCluster;
  let cluster: LocalCluster;
  let dir: string;
  let client: TestudoClient;
  let browser: Browser;
  let page: Page;
  let leaderId: string;
  /** The follower whose page the cases watch (it stays up when the leader is killed). */
  let servingId: string;
  const shots = artifactsDir();

  beforeAll(async () => {
    await mkdir(shots, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'testudo-dashboard-'));
    // Workers are started below, each with its own labels (and dialing the coordinators directly).
    chaos = new ChaosCluster({ coordinators: 3, workers: 0, slots: 1, dataDir: dir, baseHttpPort: 0, seed: 14, logLevel: 'warn', workerTtlMs: 3000 });
    await chaos.start();
    cluster = chaos.cluster;
    client = clientFor(cluster);
    ({ leaderId } = await stableLeader(client, 3));
    await cluster.startWorker('w1', { slots: 2, labels: 'zone=a,tier=gold', killGraceMs: 500 });
    await cluster.startWorker('w2', { slots: 2, labels: 'zone=b', killGraceMs: 500 });
    await waitFor('2 connected workers', async () => (await client.listWorkers()).filter((w) => w.connected).length >= 2, 60_000);
    servingId = [...cluster.members.keys()].find((id) => id !== leaderId)!;
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://${cluster.member(servingId).httpAddress!}/`);
    await page.waitForFunction(() => document.body.dataset['stream'] === 'live', null, { timeout: 15_000 });
  }, 120_000);

  // The cases read a follower's page. On a loaded machine a stalled leader can lose an election
  // (160-320 ms timeouts), and the new leader may be the serving node (CI at bbde7dd: term 3 began
  // before the first case and put it there): leadership then moves to another member first.
  beforeEach(async () => {
    const { leaderId: leading } = await stableLeader(client, 3);
    if (leading !== servingId) return;
    const to = [...cluster.members.keys()].find((id) => id !== servingId)!;
    await client.transferLeader(to);
    await waitFor(`leadership moved from ${servingId} to ${to}`, async () => (await stableLeader(client, 3)).leaderId === to);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    client?.close();
    await chaos?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('shows the leader that testudo cluster status reports, with every member', async () => {
    const endpoints = [...cluster.members.values()].map((m) => m.grpcAddress).join(',');
    const cli = await runTestudo(['cluster', 'status', '--json', '--coordinators', endpoints], 30_000);
    expect(cli.code, cli.stderr).toBe(0);
    const status = JSON.parse(cli.stdout) as { leaderId: string; members: { id: string; role: string }[] };
    const cliLeader = status.members.find((m) => m.role === 'leader')!.id;
    await page.waitForFunction((id) => document.querySelector(`#members tr[data-member="${id}"]`)?.getAttribute('data-role') === 'leader', cliLeader, { timeout: 10_000 });
    expect(await page.getAttribute('body', 'data-leader')).toBe(cliLeader);
    expect(await page.locator('#members tbody tr').count()).toBe(3);
    expect(await page.textContent('#served-by')).toContain(`served by ${servingId} (follower)`);
    // The topology: a link from the serving node to each other member, coloured once its round trip is measured.
    await page.waitForFunction(() => document.querySelectorAll('#topology line.link.fast, #topology line.link.slow').length === 2, null, { timeout: 10_000 });
    expect(await page.textContent(`#members tr[data-member="${cliLeader === servingId ? [...cluster.members.keys()].find((id) => id !== servingId)! : cliLeader}"]`)).toMatch(/\d ms/);
    await page.screenshot({ path: `${shots}/cluster.png`, fullPage: true });
  });

  it("advances a run's progress live, without reloading the page", async () => {
    await page.click('#tab-runs');
    const { runId } = await client.submitRun(sleepRun('live-progress', 8, 1));
    const row = page.locator(`#runs tr[data-run="${runId}"]`);
    await row.waitFor({ timeout: 10_000 });
    // A value strictly between the start and the end proves an update arrived while the run went on.
    await page.waitForFunction((id) => {
      const done = Number(document.querySelector(`#runs tr[data-run="${id}"]`)?.getAttribute('data-done'));
      return done > 0 && done < 8;
    }, runId, { timeout: 30_000 });
    await page.locator(`#runs tr[data-run="${runId}"] button`).click();
    await page.locator('#run-detail .gantt-bar').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${shots}/runs.png`, fullPage: true });
    await page.waitForFunction((id) => document.querySelector(`#runs tr[data-run="${id}"]`)?.getAttribute('data-done') === '8', runId, { timeout: 60_000 });
    expect(await row.locator('.badge').textContent()).toBe('passed');
    // One page load: every change came over the stream.
    expect(await page.evaluate('performance.getEntriesByType("navigation").length')).toBe(1);
  });

  it('shows a drained worker and a disabled breaker, and filters by state, breaker, label and text', async () => {
    const workers = await client.listWorkers();
    const w1 = workers.find((w) => w.name === 'w1')!.workerId;
    const w2 = workers.find((w) => w.name === 'w2')!.workerId;
    await client.drainWorker(w2);
    await client.releaseWorker(w1, { mode: 'disable', reason: 'dashboard test' });
    await page.click('#tab-workers');
    await page.waitForFunction((id) => document.querySelector(`#workers tr[data-worker="${id}"]`)?.getAttribute('data-state') === 'draining', w2, { timeout: 10_000 });
    await page.waitForFunction((id) => document.querySelector(`#workers tr[data-worker="${id}"]`)?.getAttribute('data-breaker') === 'disabled', w1, { timeout: 10_000 });
    const shown = async (): Promise<string[]> => page.locator('#workers tbody tr[data-worker]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-worker')!).sort());
    expect(await shown()).toEqual([w1, w2].sort());
    await page.selectOption('#worker-state', 'draining');
    expect(await shown()).toEqual([w2]);
    await page.selectOption('#worker-state', '');
    await page.selectOption('#worker-breaker', 'disabled');
    expect(await shown()).toEqual([w1]);
    await page.selectOption('#worker-breaker', '');
    await page.fill('#worker-label', 'zone=b');
    expect(await shown()).toEqual([w2]);
    await page.fill('#worker-label', 'tier');
    expect(await shown()).toEqual([w1]);
    await page.fill('#worker-label', '');
    await page.fill('#worker-search', 'no-such-worker');
    expect(await shown()).toEqual([]);
    await page.fill('#worker-search', 'zone=a');
    expect(await shown()).toEqual([w1]);
    await page.fill('#worker-search', '');
    expect(await page.textContent(`#workers tr[data-worker="${w2}"] .badge`)).toBe('draining');
    // The page is served by a follower: session facts come from the leader and say so.
    expect(await page.textContent(`#workers tr[data-worker="${w1}"]`)).toContain('connected');
    expect(await page.textContent(`#workers tr[data-worker="${w1}"]`)).toContain('(from leader)');
    // Heartbeat ages, which only the leader knows, shown by a follower: the leader sends them as ages.
    expect(await page.textContent(`#workers tr[data-worker="${w1}"]`)).toMatch(/heartbeat [\d.]+ (ms|s) ago/);
    expect(await page.textContent('#workers-note')).toContain('asked of the leader');
    await page.screenshot({ path: `${shots}/workers.png`, fullPage: true });
    await client.drainWorker(w2, true);
    await client.releaseWorker(w1, { mode: 'enable', reason: 'dashboard test' });
  });

  /** Ids the page sent as Last-Event-ID on each stream request (undefined: a fresh start). */
  const streamRequests = (): (string | undefined)[] => {
    const ids: (string | undefined)[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/dashboard/events')) ids.push(request.headers()['last-event-id']);
    });
    return ids;
  };

  it.skipIf(!canKillSockets)('resumes the stream from its Last-Event-ID after the connection drops', async () => {
    const ids = streamRequests();
    const before = (await page.getAttribute('body', 'data-event-id'))!;
    const w2 = (await client.listWorkers()).find((w) => w.name === 'w2')!.workerId;
    // Abort the browser's TCP connections to the coordinator (ss -K): the stream drops under the page.
    killConnectionsTo(Number(cluster.member(servingId).httpAddress!.split(':')[1]));
    await client.drainWorker(w2);
    await page.waitForFunction((id) => document.querySelector(`#workers tr[data-worker="${id}"]`)?.getAttribute('data-state') === 'draining', w2, { timeout: 15_000 });
    await page.waitForFunction(() => document.body.dataset['stream'] === 'live', null, { timeout: 10_000 });
    expectResumedAfter(ids, before);
    expect(await page.getAttribute('body', 'data-last-frame')).toBe('patch');
    await client.drainWorker(w2, true);
  });

  it('resumes from its Last-Event-ID after a pause, catching up on what it missed', async () => {
    const w2 = (await client.listWorkers()).find((w) => w.name === 'w2')!.workerId;
    await page.waitForFunction((id) => document.querySelector(`#workers tr[data-worker="${id}"]`)?.getAttribute('data-state') === 'active', w2, { timeout: 10_000 });
    const ids = streamRequests();
    await page.click('#pause');
    await page.waitForFunction(() => document.body.dataset['stream'] === 'paused', null, { timeout: 5_000 });
    const before = (await page.getAttribute('body', 'data-event-id'))!;
    await client.drainWorker(w2);
    // The serving follower has applied the change (its snapshot says so) while the page was not listening.
    await waitFor('the follower to apply the drain', async () => {
      const snapshot = (await (await fetch(`http://${cluster.member(servingId).httpAddress!}/api/dashboard/snapshot`)).json()) as { sections: { workers: { workers: { workerId: string; state: string }[] } } };
      return snapshot.sections.workers.workers.find((w) => w.workerId === w2)?.state === 'draining';
    });
    expect(await page.getAttribute(`#workers tr[data-worker="${w2}"]`, 'data-state')).toBe('active');
    await page.click('#pause');
    await page.waitForFunction((id) => document.querySelector(`#workers tr[data-worker="${id}"]`)?.getAttribute('data-state') === 'draining', w2, { timeout: 10_000 });
    expectResumedAfter(ids, before);
    expect(await page.getAttribute('body', 'data-last-frame')).toBe('patch');
    await client.drainWorker(w2, true);
  });

  it('shows the queue, the recovery events view, and works with the keyboard', async () => {
    await page.focus('#tab-cluster');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-runs', 'aria-selected')).toBe('true');
    expect(await page.isVisible('#view-runs')).toBe(true);
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-charts', 'aria-selected')).toBe('true');
    // The coordinator's own samples, one a second: the run above shows in the throughput and commits.
    await page.locator('#charts svg polyline').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('#charts figure').count()).toBe(6);
    // A follower proposes nothing: its commit latency chart says where the figure is measured.
    expect(await page.textContent('#charts figure[data-chart="commit-latency"]')).toContain('Measured by the leader');
    await page.screenshot({ path: `${shots}/charts.png`, fullPage: true });
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-events', 'aria-selected')).toBe('true');
    // The disable/enable of w1's breaker above are breaker transitions.
    await page.locator('#events tbody tr', { hasText: 'breaker' }).first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${shots}/events.png`, fullPage: true });
  });

  it("draws the leader's commit latency from its own samples", async () => {
    const { leaderId: leading } = await stableLeader(client, 3);
    const leaderPage = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await leaderPage.goto(`http://${cluster.member(leading).httpAddress!}/`);
      await leaderPage.click('#tab-charts');
      const latency = leaderPage.locator('#charts figure[data-chart="commit-latency"] svg :is(polyline, circle)').first();
      // Writes while the page watches: the leader samples the commit latencies of its own proposals once a second.
      for (let i = 0; i < 100 && !(await latency.isVisible()); i++) {
        await client.put('dashboard/commit-latency', String(i));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await latency.waitFor({ timeout: 5_000 });
      expect(await leaderPage.getAttribute('#charts figure[data-chart="commit-latency"] svg', 'aria-label')).toMatch(/^Commit latency: now median [\d.]+ ms/);
      const metrics = await (await fetch(`http://${cluster.member(leading).httpAddress!}/metrics`)).text();
      expect(Number(/^testudo_raft_commit_latency_seconds_count\{[^}]*\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      await leaderPage.screenshot({ path: `${shots}/charts-leader.png`, fullPage: true });
    } finally {
      await leaderPage.close();
    }
  });

  it('shows a fault injected by the chaos module while it is active, and in the timeline once healed', async () => {
    await page.click('#tab-events');
    const injector = new FaultInjector(chaos, createPrng(14), { adaptive: false });
    const fault = await injector.inject({ atMs: 0, type: 'latency', scope: 'follower', intensity: 'mild' });
    const [target] = fault.targets;
    const row = page.locator('#faults-active tr[data-type="latency"]');
    try {
      await row.waitFor({ timeout: 10_000 });
      const text = await row.textContent();
      for (const part of ['latency', 'mild', 'follower', target!, 'latencyMs=50', 'testudo chaos']) expect(text).toContain(part);
      await page.screenshot({ path: `${shots}/chaos.png`, fullPage: true });
    } finally {
      await fault.heal();
    }
    const id = (await page.locator('#fault-timeline [data-fault]').first().getAttribute('data-fault'))!;
    await page.waitForFunction((faultId) => document.querySelector(`#fault-timeline [data-fault="${faultId}"]`)?.getAttribute('data-active') === 'false', id, { timeout: 10_000 });
    expect(await page.locator('#faults-active tr[data-fault]').count()).toBe(0);
    expect(await page.textContent(`#fault-timeline [data-fault="${id}"]`)).toContain('healed');
    // The record is in the replicated state: every member holds it, healed.
    await injector.recordsWritten();
    const listed = await client.list({ prefix: faultRecordPrefix });
    const records = listed.items.map((item) => decodeFaultRecord(item.key, Buffer.from(item.value).toString('utf8')));
    expect(records.map((r) => ({ id: r.id, type: r.type, targets: r.targets, healed: r.healedAtMs >= r.startedAtMs }))).toEqual([{ id, type: 'latency', targets: [target], healed: true }]);
  });

  it('updates the page within two seconds when the leader is killed (kill -9)', async () => {
    await page.click('#tab-cluster');
    let { leaderId: current } = await stableLeader(client, 3);
    if (current === servingId) {
      // The page must be served by a member that survives: hand leadership to the third one.
      const third = [...cluster.members.keys()].find((id) => id !== servingId)!;
      await client.transferLeader(third);
      ({ leaderId: current } = await stableLeader(client, 3));
    }
    await page.waitForFunction((id) => document.body.dataset['leader'] === id, current, { timeout: 10_000 });
    const pid = cluster.member(current).child!.pid!;
    process.kill(pid, 'SIGKILL');
    // The functional deadline of the issue: the page shows the loss within two seconds.
    await page.waitForFunction(
      (id) => document.querySelector(`#members tr[data-member="${id}"]`)?.getAttribute('data-role') !== 'leader' || document.body.dataset['leader'] !== id,
      current,
      { timeout: 2_000 },
    ).catch(async (error: unknown) => {
      throw new Error(`page after the kill: ${JSON.stringify(await page.evaluate(() => ({ ...document.body.dataset, members: document.querySelector('#members')?.textContent })))}`, { cause: error });
    });
    const next = await waitFor('a new leader', async () => {
      const status = await client.clusterStatus();
      return status.members.find((m) => m.reachable && m.role === 'leader')?.id;
    });
    expect(next).not.toBe(current);
    await page.waitForFunction((id) => document.body.dataset['leader'] === id, next, { timeout: 10_000 });
    await page.waitForFunction((id) => document.querySelector(`#members tr[data-member="${id}"]`)?.getAttribute('data-role') === 'unreachable', current, { timeout: 10_000 });
    // The header reads the node's live Raft status, the list its leader-change events: the list may show the
    // election's leaderless step (the new term, no leader yet) for one more patch after the header names the leader.
    await page.waitForFunction((id) => document.querySelector('#leader-changes li')?.textContent?.includes(id) === true, next, { timeout: 10_000 }).catch(() => undefined);
    expect(await page.locator('#leader-changes li').first().textContent()).toContain(next);
    await page.screenshot({ path: `${shots}/cluster-after-failover.png`, fullPage: true });
  });
});
