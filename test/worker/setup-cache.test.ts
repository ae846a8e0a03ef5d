import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SetupCache } from '../../src/worker/setup-cache.js';
import { processGone, waitUntil } from './helpers.js';

describe('SetupCache', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-setup-'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });
  const count = (): number => readFileSync(path.join(tmp, 'count'), 'utf8').length;

  it('runs the commands in order once per cache key, remembered across instances', async () => {
    const cache = new SetupCache({ workDir: path.join(tmp, 'work') });
    const request = {
      commands: ['printf x >> count', 'test "$SETUP_VAR" = yes', 'pwd > where'],
      cacheKey: 'commit-abc',
      checkoutDir: tmp,
      env: { SETUP_VAR: 'yes' },
    };
    const [first, second] = await Promise.all([cache.ensureSetup(request), cache.ensureSetup(request)]);
    expect(first).toEqual({ ok: true, cached: false });
    expect(second).toEqual({ ok: true, cached: false }); // shared in-flight setup
    expect(count()).toBe(1);
    expect(readFileSync(path.join(tmp, 'where'), 'utf8').trim()).toBe(tmp);
    expect(existsSync(cache.markerPath('commit-abc'))).toBe(true);
    expect(path.dirname(cache.markerPath('commit-abc'))).toBe(path.join(tmp, 'work', 'setup'));

    expect(await cache.ensureSetup(request)).toEqual({ ok: true, cached: true });
    const restarted = new SetupCache({ workDir: path.join(tmp, 'work') });
    expect(await restarted.ensureSetup(request)).toEqual({ ok: true, cached: true });
    expect(await restarted.ensureSetup({ ...request, cacheKey: 'commit-def' })).toEqual({ ok: true, cached: false });
    expect(count()).toBe(2);
  });

  it('does not cache a failure: the next call retries', async () => {
    const cache = new SetupCache({ workDir: path.join(tmp, 'work') });
    const request = {
      commands: ['printf x >> count', 'echo installing; echo broken >&2; [ -f fixed ] || exit 4', 'echo never > never'],
      cacheKey: 'k',
      checkoutDir: tmp,
    };
    const failed = await cache.ensureSetup(request);
    expect(failed.ok).toBe(false);
    if (failed.ok) return;
    expect(failed.reason).toMatch(/^setup command 2 of 3 \(.*\) exited with code 4$/);
    expect(failed.outputTail).toBe('installing\nbroken\n');
    expect(existsSync(path.join(tmp, 'never'))).toBe(false);
    expect(existsSync(cache.markerPath('k'))).toBe(false);

    const again = await cache.ensureSetup({ ...request, commands: ['printf x >> count', 'touch fixed'] });
    expect(again).toEqual({ ok: true, cached: false });
    expect(count()).toBe(2);
  });

  it('times out, killing the group', async () => {
    const cache = new SetupCache({ workDir: path.join(tmp, 'work'), timeoutMs: 300, killGraceMs: 100 });
    // The sleeps outlast the test's own timeout: ensureSetup returning at all shows the setup timeout ended them.
    const result = await cache.ensureSetup({
      commands: ['sleep 600 & echo $! > bg.pid; sleep 600'],
      cacheKey: 'slow',
      checkoutDir: tmp,
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/timed out: the setup timeout is 300 ms/);
    const bg = Number(readFileSync(path.join(tmp, 'bg.pid'), 'utf8'));
    expect(await waitUntil(() => processGone(bg))).toBe(true);
  });

  it('fails clearly when the checkout does not exist', async () => {
    const cache = new SetupCache({ workDir: path.join(tmp, 'work') });
    const result = await cache.ensureSetup({ commands: ['true'], cacheKey: 'k', checkoutDir: path.join(tmp, 'missing') });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(`could not start in ${path.join(tmp, 'missing')}`);
  });
});
