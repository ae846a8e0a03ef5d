import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LruCache } from '../lib/lru-cache.js';

describe('LruCache', () => {
  test('returns what was stored', () => {
    const cache = new LruCache(2);
    cache.set('a', 1);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('b'), undefined);
  });

  test('evicts the least recently used entry', () => {
    const cache = new LruCache(2);
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.set('c', 3), 'a');
    assert.deepEqual(cache.keys(), ['b', 'c']);
  });

  test('a read makes an entry recent again', () => {
    const cache = new LruCache(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    assert.equal(cache.has('a'), true);
    assert.equal(cache.has('b'), false);
  });

  test('overwriting a key does not grow the cache', () => {
    const cache = new LruCache(2);
    cache.set('a', 1);
    cache.set('a', 2);
    assert.equal(cache.size, 1);
    assert.equal(cache.get('a'), 2);
  });

  test('counts hits and misses', () => {
    const cache = new LruCache(1);
    cache.set('a', 1);
    cache.get('a');
    cache.get('a');
    cache.get('z');
    assert.deepEqual({ hits: cache.hits, misses: cache.misses }, { hits: 2, misses: 1 });
  });

  test('rejects a capacity below one', () => {
    assert.throws(() => new LruCache(0), RangeError);
  });
});
