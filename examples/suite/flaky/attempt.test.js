// A deliberately flaky test: it fails on the first attempt and passes on the
// next one. The `flaky` suite has `retries: 2`, so Testudo retries the task
// and reports the test as flaky (failed, then passed) instead of failed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LruCache } from '../lib/lru-cache.js';

describe('flaky', () => {
  test('passes from the second attempt on', () => {
    const attempt = process.env.TESTUDO_ATTEMPT ?? '1';
    assert.notEqual(attempt, '1', 'first attempt fails on purpose (TESTUDO_ATTEMPT=1)');
  });

  test('is steady', () => {
    const cache = new LruCache(1);
    cache.set('x', 1);
    assert.equal(cache.get('x'), 1);
  });
});
