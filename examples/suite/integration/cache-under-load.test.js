// Slow on purpose (about 1.5 s): a "load test" of the LRU cache in front of a
// slow backend. Sharded on its own, it shows how timings-aware splitting
// keeps slow files apart.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { LruCache } from '../lib/lru-cache.js';

async function slowBackend(key) {
  await sleep(25);
  return `value-of-${key}`;
}

describe('cache under load', () => {
  test('a warm cache answers without the backend', async () => {
    const cache = new LruCache(16);
    let backendCalls = 0;
    const read = async (key) => {
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      backendCalls++;
      const value = await slowBackend(key);
      cache.set(key, value);
      return value;
    };
    // 40 distinct keys through a 16-entry cache, then the last 16 again.
    for (let i = 0; i < 40; i++) await read(`k${i}`);
    for (let i = 24; i < 40; i++) assert.equal(await read(`k${i}`), `value-of-k${i}`);
    assert.equal(backendCalls, 40);
    assert.equal(cache.hits, 16);
  });

  test('concurrent readers all get the same value', async () => {
    const values = await Promise.all(Array.from({ length: 20 }, () => slowBackend('shared')));
    await sleep(400);
    assert.deepEqual(new Set(values), new Set(['value-of-shared']));
  });
});
