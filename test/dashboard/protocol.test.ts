import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_CONNECTIONS_MAX } from '../../src/coordinator/http-server.js';
import type { HubLimits } from '../../src/dashboard/hub.js';
import type { DashboardAuthVerdict } from '../../src/dashboard/server.js';
import { SseClient, type Frame } from '../../src/dashboard/sse-client.js';
import { waitFor } from '../integration/harness.js';
import { registration, submission, template } from '../coordinator/orchestrator-fixtures.js';
import { encodeFaultRecord, faultRecordKey, faultRecordPrefix, type FaultRecord } from '../../src/model/index.js';
import { serveDashboard, stopDashboards, type DashboardFixture } from './fixture.js';

/**
 * The dashboard's HTTP and stream protocol against a real HTTP server and a
 * real state machine in this process (commands applied as a coordinator
 * applies them, test/dashboard/fixture.ts); the browser and real-cluster
 * side is in browser.test.ts.
 */

afterEach(stopDashboards);

function start(limits: Partial<HubLimits> = {}, authorize?: (token: string) => DashboardAuthVerdict): Promise<DashboardFixture> {
  return serveDashboard({ limits, ...(authorize === undefined ? {} : { authorize }) });
}

/** A worker's state in a snapshot's sections or in one patch (its `workersDelta`). */
function workerState(sections: Record<string, unknown>, workerId: string): string | undefined {
  const rows = (sections['workers'] as { workers: WorkerRow[] } | undefined)?.workers ?? (sections['workersDelta'] as { changed: WorkerRow[] } | undefined)?.changed ?? [];
  return rows.find((w) => w.workerId === workerId)?.state;
}

interface WorkerRow {
  readonly workerId: string;
  readonly state: string;
}

/** Workers' states after applying `frames` in order, as a page does. */
function foldWorkers(frames: readonly Frame[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const f of frames) {
    const sections = (JSON.parse(f.data) as { sections?: Record<string, unknown> }).sections ?? {};
    const full = sections['workers'] as { workers: WorkerRow[] } | undefined;
    if (full !== undefined) {
      states.clear();
      for (const w of full.workers) states.set(w.workerId, w.state);
    }
    const delta = sections['workersDelta'] as { changed: WorkerRow[]; removed: string[] } | undefined;
    for (const id of delta?.removed ?? []) states.delete(id);
    for (const w of delta?.changed ?? []) states.set(w.workerId, w.state);
  }
  return states;
}

/** Opens a stream and waits for its first data frame. */
async function openStream(base: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = new SseClient(`${base}/api/dashboard/events`, headers);
  await client.opened;
  if (client.status === 200) await waitFor('the first event', () => client.events().length > 0, 5_000);
  return client;
}

describe('dashboard protocol', () => {
  it('serves the page with a strict CSP, nosniff and revalidation by ETag', async () => {
    const { base } = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    // No inline script or style: everything comes from the coordinator's own files.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/https?:\/\//);
    const etag = page.headers.get('etag')!;
    expect((await fetch(`${base}/`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const js = await fetch(`${base}/dashboard/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).not.toMatch(/\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write/);
    expect((await fetch(`${base}/dashboard/app.js`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/dashboard/nope.js`)).status).toBe(404);
    // The other routes are untouched.
    expect((await fetch(`${base}/livez`)).status).toBe(200);
  });

  it('gives a snapshot whose event id a stream resumes from, replaying only what followed', async () => {
    const { base, apply } = await start();
    apply(registration('w1'));
    const snapshot = (await (await fetch(`${base}/api/dashboard/snapshot`)).json()) as { eventId: string; sections: Record<string, unknown> };
    expect(workerState(snapshot.sections, 'w1')).toBe('active');
    // Wait until the registration's patch is out, so the id below is the last one.
    const first = await openStream(base);
    await waitFor('a quiet stream', async () => {
      const before = first.frames.length;
      await new Promise((resolve) => setTimeout(resolve, 400));
      return first.frames.length === before;
    });
    const lastId = first.events().at(-1)!.id;
    first.close();
    apply({ type: 'drain-worker', workerId: 'w1', drain: true });
    apply(registration('w2'));
    const resumed = await openStream(base, { 'Last-Event-ID': lastId });
    const [bootId, lastSeq] = lastId.split('-');
    await waitFor('the missed changes', () => {
      const states = foldWorkers(resumed.events());
      return states.get('w1') === 'draining' && states.get('w2') === 'active';
    });
    for (const f of resumed.events()) {
      expect(f.event).toBe('patch');
      expect(f.id.split('-')[0]).toBe(bootId);
      expect(Number(f.id.split('-')[1])).toBeGreaterThan(Number(lastSeq));
    }
    resumed.close();
  });

  it('starts with a snapshot when the Last-Event-ID is unknown, from another process, or out of the ring', async () => {
    const { base, apply } = await start({ ringEventsMax: 2, updatesPerSecondMax: 50 });
    apply(registration('w1'));
    const stream = await openStream(base);
    const oldId = stream.events()[0]!.id;
    stream.close();
    for (let i = 0; i < 6; i++) {
      apply({ type: 'drain-worker', workerId: 'w1', drain: i % 2 === 0 });
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    for (const id of ['nonsense', 'deadbeef-1', oldId]) {
      const s = await openStream(base, { 'Last-Event-ID': id });
      expect(s.events()[0]!.event, id).toBe('snapshot');
      s.close();
    }
  });

  it('a page that follows only the patches holds the same workers as a fresh snapshot', async () => {
    const { base, apply } = await start({ updatesPerSecondMax: 20 });
    const stream = await openStream(base);
    for (const id of ['w1', 'w2', 'w3']) apply(registration(id));
    await fetch(`${base}/api/dashboard/snapshot`); // another page's snapshot in between must not shift the deltas' baseline
    apply({ type: 'drain-worker', workerId: 'w2', drain: true });
    apply({ type: 'worker-lost', workerId: 'w3', reason: 'test' });
    const expected = async (): Promise<Map<string, string>> => {
      const snapshot = (await (await fetch(`${base}/api/dashboard/snapshot`)).json()) as { sections: { workers: { workers: WorkerRow[] } } };
      return new Map(snapshot.sections.workers.workers.map((w) => [w.workerId, w.state]));
    };
    const final = new Map([['w1', 'active'], ['w2', 'draining'], ['w3', 'lost']]);
    await waitFor('the stream to reach the final state', () => JSON.stringify([...foldWorkers(stream.events())]) === JSON.stringify([...final]));
    await waitFor('the snapshot to agree', async () => JSON.stringify([...(await expected())]) === JSON.stringify([...final]));
    stream.close();
  });

  it('builds nothing while nobody watches, and the next page, even one resuming by id, starts from a snapshot of the latest state', async () => {
    const { base, apply, orchestrator } = await start({ viewerIdleMs: 100, updatesPerSecondMax: 50 });
    apply(registration('w1'));
    const first = await openStream(base);
    const oldId = first.events().at(-1)!.id;
    first.close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // past viewerIdleMs: nobody watches
    const reads = { liveTasks: 0, listWorkers: 0, listRuns: 0 };
    for (const name of Object.keys(reads) as (keyof typeof reads)[]) {
      const original = orchestrator[name].bind(orchestrator) as (...args: unknown[]) => unknown;
      (orchestrator as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        reads[name]++;
        return original(...args);
      };
    }
    apply({ type: 'submit-run', runId: 'r1', submission: submission([template({ suite: 'unit' }), template({ suite: 'unit', shard: 2, shardCount: 2 })]) });
    apply(registration('w2'));
    apply({ type: 'drain-worker', workerId: 'w1', drain: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reads).toEqual({ liveTasks: 0, listWorkers: 0, listRuns: 0 });
    const resumed = await openStream(base, { 'Last-Event-ID': oldId });
    expect(resumed.events()[0]!.event).toBe('snapshot');
    const queue = (JSON.parse(resumed.events()[0]!.data) as { sections: { queue: { tasks: unknown[] } } }).sections.queue;
    expect(queue.tasks).toHaveLength(2);
    expect(reads.liveTasks).toBeGreaterThan(0);
    // The deltas' baselines were forgotten with the dropped changes: patches after the snapshot fold to the true state.
    apply({ type: 'worker-lost', workerId: 'w2', reason: 'test' });
    await waitFor('the stream to reach the final state', () => {
      const states = foldWorkers(resumed.events());
      return states.get('w1') === 'draining' && states.get('w2') === 'lost';
    });
    resumed.close();
  });

  it('coalesces a burst of changes into at most updatesPerSecondMax patches per second', async () => {
    const { base, apply } = await start({ updatesPerSecondMax: 4 });
    apply(registration('w1'));
    const stream = await openStream(base);
    const startAt = Date.now();
    for (let i = 0; i < 200; i++) apply({ type: 'drain-worker', workerId: 'w1', drain: i % 2 === 0 });
    apply({ type: 'drain-worker', workerId: 'w1', drain: true });
    await waitFor('the final state', () => stream.events().some((f) => f.event === 'patch' && workerState((JSON.parse(f.data) as { sections: Record<string, unknown> }).sections, 'w1') === 'draining'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    const seconds = (Date.now() - startAt) / 1000;
    const patches = stream.events().filter((f) => f.event === 'patch').length;
    // 201 changes; the bound is 4 a second (one more for the edge of the window).
    expect(patches).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 1);
    expect(patches).toBeLessThan(20);
    stream.close();
  });

  it('carries every chart sample once, in order, when the samples come faster than the patches', async () => {
    // A sample every 50 ms, at most 4 patches a second: each patch carries several.
    const { base } = await start({ probeIntervalMs: 50, updatesPerSecondMax: 4 });
    const stream = await openStream(base);
    const sampled = (sections: Record<string, unknown>): { atMs: number }[] =>
      (sections['metrics'] as { points: { atMs: number }[] } | undefined)?.points ?? (sections['metricsPoints'] as { atMs: number }[] | undefined) ?? [];
    const followed = (): number[] => stream.events().flatMap((f) => sampled((JSON.parse(f.data) as { sections: Record<string, unknown> }).sections).map((p) => p.atMs));
    await waitFor('a second of samples', () => followed().length >= 20, 10_000);
    stream.close();
    const snapshot = (await (await fetch(`${base}/api/dashboard/snapshot`)).json()) as { sections: Record<string, unknown> };
    const all = sampled(snapshot.sections).map((p) => p.atMs);
    const seen = followed();
    expect(seen.length).toBeGreaterThanOrEqual(20);
    expect(seen).toEqual(all.slice(0, seen.length));
    expect(stream.events().filter((f) => f.event === 'patch').length).toBeLessThan(seen.length);
  });

  it('sends a resync instead of a patch larger than eventBytesMax, and the snapshot still serves it all', async () => {
    const { base, apply } = await start({ eventBytesMax: 2_000 });
    const stream = await openStream(base);
    expect(stream.events()[0]!.event).toBe('snapshot');
    for (let i = 1; i <= 10; i++) apply(registration(`w${i}`));
    await waitFor('a resync', () => stream.events().some((f) => f.event === 'resync'));
    for (const f of stream.events()) expect(Buffer.byteLength(f.data)).toBeLessThanOrEqual(2_000);
    const snapshot = (await (await fetch(`${base}/api/dashboard/snapshot`)).json()) as { sections: Record<string, unknown> };
    expect(workerState(snapshot.sections, 'w10')).toBe('active');
    // A new page's first event would be a snapshot over the cap: it is told to fetch it instead.
    const fresh = await openStream(base);
    expect(fresh.events()[0]!.event).toBe('resync');
    stream.close();
    fresh.close();
  });

  it('refuses streams beyond streamsMax with 503 while /metrics and the snapshot still answer', async () => {
    const { base, dashboard } = await start({ streamsMax: 3 });
    const streams = await Promise.all([0, 1, 2].map(() => openStream(base)));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    expect(dashboard.streamsOpen()).toBe(3);
    const over = await openStream(base);
    expect(over.status).toBe(503);
    expect(over.headers['retry-after']).toBe('5');
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect((await fetch(`${base}/api/dashboard/snapshot`)).status).toBe(200);
    streams[0]!.close();
    await waitFor('a closed stream to free its place', () => dashboard.streamsOpen() === 2);
    const again = await openStream(base);
    expect(again.status).toBe(200);
    for (const s of [...streams, again]) s.close();
  });

  it('keeps HTTP_CONNECTIONS_MAX other connections while streams are open', async () => {
    const { base } = await start({ streamsMax: 4 });
    const streams = await Promise.all([0, 1, 2, 3].map(() => openStream(base)));
    // As many plain keep-alive connections as the cap allows, all answered.
    const statuses = await Promise.all(
      Array.from({ length: HTTP_CONNECTIONS_MAX }, () => new Promise<number>((resolve, reject) => {
        request(`${base}/livez`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end();
      })),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    for (const s of streams) s.close();
  });

  it('asks the auth check for the data endpoints only, with the token from the Authorization header', async () => {
    const { base } = await start({}, (token) => (token === '' ? { ok: false, status: 401, message: 'a token is needed' } : token === 'ro' ? { ok: true } : { ok: false, status: 403, message: 'unknown token' }));
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/dashboard/app.js`)).status).toBe(200);
    const refused = await fetch(`${base}/api/dashboard/snapshot`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('Bearer');
    expect((await fetch(`${base}/api/dashboard/snapshot`, { headers: { Authorization: 'Bearer nope' } })).status).toBe(403);
    expect((await fetch(`${base}/api/dashboard/snapshot`, { headers: { Authorization: 'Bearer ro' } })).status).toBe(200);
    expect((await openStream(base)).status).toBe(401);
    const stream = await openStream(base, { Authorization: 'Bearer ro' });
    expect(stream.status).toBe(200);
    stream.close();
  });

  it("serves a run's detail and its reports as downloads", async () => {
    const { base, apply } = await start();
    apply({ type: 'submit-run', runId: 'r1', submission: submission([template({ suite: 'unit' })]) });
    const detail = (await (await fetch(`${base}/api/dashboard/runs/r1`)).json()) as { runId: string; tasks: unknown[] };
    expect(detail.runId).toBe('r1');
    expect(detail.tasks).toHaveLength(1);
    const html = await fetch(`${base}/api/dashboard/runs/r1/report.html`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-disposition')).toContain('attachment');
    expect((await fetch(`${base}/api/dashboard/runs/nope`)).status).toBe(404);
    expect((await fetch(`${base}/api/dashboard/runs/..%2Fetc`)).status).toBe(404);
  });
  it('shows the fault records of the replicated state, live, and counts a key that holds no record', async () => {
    const { base, put } = await start({ probeIntervalMs: 100 });
    const fault: FaultRecord = {
      id: 'f1', type: 'latency', intensity: 'mild', wanted: 'severe', adaptedReason: 'w1: breaker open', scope: 'leader', targets: ['n2'], targetsOmitted: 0,
      params: { durationMs: 4000, latencyMs: 50 }, source: 'test', startedAtMs: 1_700_000_000_000, healedAtMs: 0,
    };
    put(faultRecordKey(fault), encodeFaultRecord(fault));
    // A planted bad value under the prefix: not shown, counted.
    put(`${faultRecordPrefix}000000000000001-bad`, '{"v":1,"id":"bad"}');
    const faults = async (): Promise<{ faults: FaultRecord[]; malformed: number }> =>
      ((await (await fetch(`${base}/api/dashboard/snapshot`)).json()) as { sections: { faults: { faults: FaultRecord[]; malformed: number } } }).sections.faults;
    expect(await faults()).toMatchObject({ faults: [fault], malformed: 1 });
    const stream = await openStream(base);
    put(faultRecordKey(fault), encodeFaultRecord({ ...fault, healedAtMs: fault.startedAtMs + 4000 }));
    // The heal reaches an open stream as a patch of the faults section.
    await waitFor('the heal in a patch', () =>
      stream.events().some((f) => f.event === 'patch' && (JSON.parse(f.data) as { sections: { faults?: { faults: FaultRecord[] } } }).sections.faults?.faults[0]?.healedAtMs === fault.startedAtMs + 4000),
    );
    stream.close();
    expect(() => encodeFaultRecord({ ...fault, healedAtMs: 1 })).toThrow(/healed before it started/);
  });
});
