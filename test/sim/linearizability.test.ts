import { describe, expect, it } from 'vitest';
import { checkLinearizable, LinearizabilityInputError, type HistoryOp } from './linearizability.js';

/** Compact history builder: `[id, clientId, kind, value, invokeStep, responseStep]` on key `k` unless given. */
function op(
  id: number,
  clientId: number,
  kind: 'put' | 'get',
  value: string | null,
  invokeStep: number,
  responseStep: number | null,
  key = 'k',
): HistoryOp {
  return { id, clientId, kind, key, value, invokeStep, responseStep };
}

/** mulberry32: a tiny seeded PRNG, so every generated history replays exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface GeneratorConfig {
  readonly seed: number;
  readonly clientCount: number;
  readonly opsPerClient: number;
  readonly keys: readonly string[];
  readonly unknownOutcomeRate: number;
}

/**
 * Runs clients against a real atomic register map: each op takes effect at a
 * point strictly inside its interval, so the history is linearizable by
 * construction. Unknown-outcome puts take effect half the time; unknown-outcome
 * gets carry a value no one wrote, which the checker must ignore.
 */
function generateHistory(config: GeneratorConfig): HistoryOp[] {
  const random = mulberry32(config.seed);
  const randomInt = (maxExclusive: number): number => Math.floor(random() * maxExclusive);
  const drafts: { op: HistoryOp; effectAt: number | null }[] = [];
  let nextId = 0;
  for (let clientId = 0; clientId < config.clientCount; clientId++) {
    let cursor = randomInt(5);
    for (let i = 0; i < config.opsPerClient; i++) {
      const id = nextId++;
      const kind = random() < 0.5 ? 'put' : 'get';
      const key = config.keys[randomInt(config.keys.length)] ?? 'k';
      const invokeStep = cursor + randomInt(3);
      const durationSteps = 1 + randomInt(20);
      const unknown = random() < config.unknownOutcomeRate;
      const takesEffect = !unknown || (kind === 'put' && random() < 0.5);
      const effectAt = takesEffect ? invokeStep + durationSteps * (0.001 + 0.998 * random()) : null;
      const value = kind === 'put' ? `v${id}` : 'never-written';
      drafts.push({ op: op(id, clientId, kind, value, invokeStep, unknown ? null : invokeStep + durationSteps, key), effectAt });
      // Zero gap on purpose now and then: the next invoke lands on the same step as this response.
      cursor = invokeStep + durationSteps + randomInt(3);
    }
  }

  const register = new Map<string, string | null>();
  const observed = new Map<number, string | null>();
  const effective = drafts.filter((draft) => draft.effectAt !== null);
  effective.sort((a, b) => (a.effectAt ?? 0) - (b.effectAt ?? 0) || a.op.id - b.op.id);
  for (const { op: effect } of effective) {
    if (effect.kind === 'put') register.set(effect.key, effect.value);
    else observed.set(effect.id, register.get(effect.key) ?? null);
  }
  return drafts.map(({ op: draft }) => (observed.has(draft.id) ? { ...draft, value: observed.get(draft.id) ?? null } : draft));
}

/** Makes one completed get read P1's value where P1 completed before P2 was invoked and P2 completed before the get: never linearizable. */
function injectStaleRead(history: readonly HistoryOp[]): { history: HistoryOp[]; get: HistoryOp } {
  const completed = (o: HistoryOp): o is HistoryOp & { responseStep: number } => o.responseStep !== null;
  const puts = history.filter((o) => o.kind === 'put').filter(completed);
  const gets = history.filter((o) => o.kind === 'get').filter(completed);
  for (const get of [...gets].sort((a, b) => a.invokeStep - b.invokeStep)) {
    for (const p2 of puts) {
      if (p2.key !== get.key || p2.responseStep >= get.invokeStep) continue;
      const p1 = puts.find((p) => p.key === get.key && p.responseStep < p2.invokeStep && p.value !== get.value);
      if (p1 === undefined) continue;
      const stale = { ...get, value: p1.value };
      return { history: history.map((o) => (o.id === get.id ? stale : o)), get: stale };
    }
  }
  throw new Error('generated history has no put-before-put-before-get triple');
}

/**
 * Oracle for tiny histories, written independently of the checker's tricks:
 * tries every order of the ops that respects real time (unknown-outcome puts
 * respond at +infinity and may be left out; unknown-outcome gets are dropped).
 */
function bruteForceLinearizable(history: readonly HistoryOp[]): boolean {
  const keys = new Set(history.map((o) => o.key));
  return [...keys].every((key) => {
    const ops = history.filter((o) => o.key === key && !(o.kind === 'get' && o.responseStep === null));
    const responseStep = (o: HistoryOp): number => o.responseStep ?? Infinity;
    const search = (done: ReadonlySet<number>, value: string | null): boolean => {
      if (ops.every((o) => done.has(o.id) || o.responseStep === null)) return true;
      return ops.some((candidate) => {
        if (done.has(candidate.id)) return false;
        const blocked = ops.some((o) => !done.has(o.id) && o !== candidate && responseStep(o) < candidate.invokeStep);
        if (blocked) return false;
        if (candidate.kind === 'get' && candidate.value !== value) return false;
        return search(new Set([...done, candidate.id]), candidate.kind === 'put' ? candidate.value : value);
      });
    };
    return search(new Set(), null);
  });
}

function randomSmallHistory(random: () => number, opCount: number): HistoryOp[] {
  const values = ['a', 'b', 'c', null];
  return Array.from({ length: opCount }, (_, id) => {
    const invokeStep = Math.floor(random() * 8);
    const responseStep = random() < 0.25 ? null : invokeStep + Math.floor(random() * 4);
    const kind = random() < 0.5 ? 'put' : 'get';
    const value = values[Math.floor(random() * (kind === 'put' ? 3 : 4))] ?? null;
    return op(id, id, kind, value, invokeStep, responseStep, random() < 0.8 ? 'k' : 'j');
  });
}

describe('checkLinearizable: basic histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizable([])).toEqual({ ok: true, statesExplored: 0 });
  });

  it('accepts a sequential history, including a get of an absent key', () => {
    const result = checkLinearizable([
      op(1, 1, 'get', null, 0, 1),
      op(2, 1, 'put', 'a', 2, 3),
      op(3, 2, 'get', 'a', 4, 5),
      op(4, 2, 'put', 'b', 6, 7),
      op(5, 1, 'get', 'b', 8, 9),
    ]);
    expect(result.ok).toBe(true);
    expect(result.inconclusive).toBeUndefined();
  });

  it('accepts a get overlapping a put whichever value it returns', () => {
    const base = [op(1, 1, 'put', 'a', 0, 1), op(2, 1, 'put', 'b', 2, 10)];
    expect(checkLinearizable([...base, op(3, 2, 'get', 'a', 3, 5)]).ok).toBe(true);
    expect(checkLinearizable([...base, op(3, 2, 'get', 'b', 3, 5)]).ok).toBe(true);
  });

  it('accepts concurrent puts seen in either order', () => {
    const puts = [op(1, 1, 'put', 'a', 0, 10), op(2, 2, 'put', 'b', 0, 10)];
    expect(checkLinearizable([...puts, op(3, 3, 'get', 'a', 11, 12)]).ok).toBe(true);
    expect(checkLinearizable([...puts, op(3, 3, 'get', 'b', 11, 12)]).ok).toBe(true);
  });

  it('accepts a value written twice and read back in between', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1),
      op(2, 2, 'get', 'a', 2, 3),
      op(3, 1, 'put', 'b', 4, 5),
      op(4, 2, 'get', 'b', 6, 7),
      op(5, 1, 'put', 'a', 8, 9),
      op(6, 2, 'get', 'a', 10, 11),
    ]);
    expect(result.ok).toBe(true);
  });

  it('rejects a stale read after a later put completed, naming the key', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1),
      op(2, 1, 'put', 'b', 2, 3),
      op(3, 2, 'get', 'a', 4, 5),
    ]);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('k');
    expect(result.explanation).toContain('#3 client 2 get -> "a" [4, 5]');
    expect(result.explanation).toContain('Longest linearizable prefix');
  });

  it('rejects a read of a value never written', () => {
    const result = checkLinearizable([op(1, 1, 'put', 'a', 0, 1), op(2, 2, 'get', 'zzz', 2, 3)]);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('k');
    expect(result.explanation).toContain('observed a value no put on this key');
  });

  it('rejects a read of a value whose put was invoked only after the read returned', () => {
    const result = checkLinearizable([op(1, 2, 'get', 'a', 0, 1), op(2, 1, 'put', 'a', 2, 3)]);
    expect(result.ok).toBe(false);
    expect(result.explanation).toContain('#1 client 2 get -> "a" [0, 1]');
  });

  it('rejects a lost write: a get invoked after a put completed returns the older value', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1),
      op(2, 2, 'get', 'a', 2, 3),
      op(3, 1, 'put', 'b', 4, 6),
      op(4, 2, 'get', 'b', 5, 7),
      op(5, 3, 'get', 'a', 8, 9),
    ]);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('k');
  });

  it('rejects a get of absent after a completed put', () => {
    const result = checkLinearizable([op(1, 1, 'put', 'a', 0, 1), op(2, 2, 'get', null, 2, 3)]);
    expect(result.ok).toBe(false);
  });

  it('reports the bad key of two', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1, 'good'),
      op(2, 2, 'get', 'a', 2, 3, 'good'),
      op(3, 1, 'put', 'x', 0, 1, 'bad'),
      op(4, 1, 'put', 'y', 2, 3, 'bad'),
      op(5, 2, 'get', 'x', 4, 5, 'bad'),
    ]);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('bad');
    expect(result.explanation).toContain('key "bad"');
  });

  it('checks keys separately: interleaving across keys cannot hide a bad key', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1, 'x'),
      op(2, 2, 'put', 'a', 0, 1, 'y'),
      op(3, 1, 'put', 'b', 2, 3, 'x'),
      op(4, 2, 'get', 'b', 4, 5, 'y'),
    ]);
    expect(result).toMatchObject({ ok: false, key: 'y' });
  });
});

describe('checkLinearizable: equal steps are concurrent', () => {
  it('lets a get invoked at the step a put responded linearize before that put', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1),
      op(2, 1, 'put', 'b', 2, 5),
      op(3, 2, 'get', 'a', 5, 6),
    ]);
    expect(result.ok).toBe(true);
  });

  it('orders a response strictly before a later invoke', () => {
    const result = checkLinearizable([
      op(1, 1, 'put', 'a', 0, 1),
      op(2, 1, 'put', 'b', 2, 5),
      op(3, 2, 'get', 'a', 6, 7),
    ]);
    expect(result.ok).toBe(false);
  });

  it('treats a zero-length op as taking effect at its step', () => {
    const result = checkLinearizable([op(1, 1, 'put', 'a', 3, 3), op(2, 2, 'get', 'a', 3, 3), op(3, 1, 'get', 'a', 4, 4)]);
    expect(result.ok).toBe(true);
  });
});

describe('checkLinearizable: unknown outcomes', () => {
  const written = op(1, 1, 'put', 'a', 0, 1);

  it('accepts an unknown-outcome put that a later get observes', () => {
    expect(checkLinearizable([written, op(2, 1, 'put', 'b', 2, null), op(3, 2, 'get', 'b', 10, 11)]).ok).toBe(true);
  });

  it('accepts an unknown-outcome put that is never observed', () => {
    expect(checkLinearizable([written, op(2, 1, 'put', 'b', 2, null), op(3, 2, 'get', 'a', 10, 11)]).ok).toBe(true);
  });

  it('accepts an unknown-outcome put that takes effect long after it was invoked', () => {
    const result = checkLinearizable([
      written,
      op(2, 1, 'put', 'b', 2, null),
      op(3, 2, 'get', 'a', 3, 4),
      op(4, 2, 'get', 'a', 50, 51),
      op(5, 2, 'get', 'b', 90, 91),
    ]);
    expect(result.ok).toBe(true);
  });

  it('rejects an unknown-outcome value that disappears after a completed get saw it', () => {
    const result = checkLinearizable([
      written,
      op(2, 1, 'put', 'b', 2, null),
      op(3, 2, 'get', 'b', 3, 4),
      op(4, 2, 'get', 'a', 5, 6),
    ]);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('k');
    expect(result.explanation).toContain('#2 client 1 put("b") [2, ?]');
  });

  it('rejects a get that observed an unknown-outcome put before it was invoked', () => {
    const result = checkLinearizable([written, op(2, 2, 'get', 'b', 2, 3), op(3, 1, 'put', 'b', 4, null)]);
    expect(result.ok).toBe(false);
  });

  it('orders two unknown-outcome puts as the gets saw them, but takes each effect once', () => {
    const unknownPuts = [op(2, 1, 'put', 'b', 2, null), op(3, 3, 'put', 'c', 2, null)];
    const seenCThenB = [op(4, 2, 'get', 'c', 5, 6), op(5, 2, 'get', 'b', 7, 8)];
    expect(checkLinearizable([written, ...unknownPuts, ...seenCThenB]).ok).toBe(true);
    const seenBCB = [op(4, 2, 'get', 'b', 5, 6), op(5, 2, 'get', 'c', 7, 8), op(6, 2, 'get', 'b', 9, 10)];
    expect(checkLinearizable([written, ...unknownPuts, ...seenBCB]).ok).toBe(false);
  });

  it('ignores the value of an unknown-outcome get', () => {
    expect(checkLinearizable([written, op(2, 2, 'get', 'garbage', 2, null), op(3, 2, 'get', 'a', 3, 4)]).ok).toBe(true);
  });
});

describe('checkLinearizable: generated histories', () => {
  const config: GeneratorConfig = { seed: 7, clientCount: 6, opsPerClient: 50, keys: ['k'], unknownOutcomeRate: 0.05 };

  it('accepts 300 ops on one key from 6 clients against an atomic register', () => {
    const history = generateHistory(config);
    expect(history).toHaveLength(300);
    expect(history.some((o) => o.responseStep === null)).toBe(true);
    const result = checkLinearizable(history);
    expect(result).toMatchObject({ ok: true });
    expect(result.inconclusive).toBeUndefined();
    expect(result.statesExplored).toBeLessThan(10 * history.length);
  });

  it('rejects the same history with one get made to read a value two puts stale', () => {
    const { history, get } = injectStaleRead(generateHistory(config));
    const result = checkLinearizable(history);
    expect(result).toMatchObject({ ok: false, key: 'k' });
    expect(result.explanation).toBeDefined();
    expect(get.value).not.toBeNull();
  });

  it('accepts many seeds at concurrency 10 over three keys within a small share of the budget', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const history = generateHistory({ seed, clientCount: 10, opsPerClient: 90, keys: ['x', 'y', 'z'], unknownOutcomeRate: 0.1 });
      const result = checkLinearizable(history);
      expect(result, `seed ${seed}`).toMatchObject({ ok: true });
      expect(result.inconclusive, `seed ${seed}`).toBeUndefined();
      expect(result.statesExplored, `seed ${seed}`).toBeLessThan(10 * history.length);
    }
  });

  it('rejects a stale read injected for many seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const generated = generateHistory({ seed, clientCount: 10, opsPerClient: 30, keys: ['x', 'y'], unknownOutcomeRate: 0.1 });
      const { history, get } = injectStaleRead(generated);
      expect(checkLinearizable(history), `seed ${seed}`).toMatchObject({ ok: false, key: get.key });
    }
  });
});

describe('checkLinearizable: agrees with a brute-force oracle', () => {
  function expectAgreement(histories: Iterable<HistoryOp[]>): void {
    const verdicts = { ok: 0, notOk: 0 };
    for (const history of histories) {
      const expected = bruteForceLinearizable(history);
      expect(checkLinearizable(history).ok, JSON.stringify(history)).toBe(expected);
      verdicts[expected ? 'ok' : 'notOk']++;
    }
    // Both verdicts must be well represented for the comparison to mean anything.
    expect(verdicts.ok).toBeGreaterThan(500);
    expect(verdicts.notOk).toBeGreaterThan(500);
  }

  it('on 3000 random histories of up to 9 ops with unknown outcomes', () => {
    const random = mulberry32(2024);
    expectAgreement(Array.from({ length: 3000 }, (_, i) => randomSmallHistory(random, 2 + (i % 8))));
  });

  it('on 3000 atomic-register histories of 9 ops, half with one get changed', () => {
    const random = mulberry32(99);
    const histories = Array.from({ length: 3000 }, (_, seed) => {
      const history = generateHistory({ seed, clientCount: 3, opsPerClient: 3, keys: ['k'], unknownOutcomeRate: 0.25 });
      const gets = history.filter((o) => o.kind === 'get' && o.responseStep !== null);
      const victim = gets[Math.floor(random() * gets.length)];
      if (seed % 2 === 0 || victim === undefined) return history;
      const written = [null, ...history.filter((o) => o.kind === 'put').map((o) => o.value)];
      const value = written[Math.floor(random() * written.length)] ?? null;
      return history.map((o) => (o.id === victim.id ? { ...o, value } : o));
    });
    expectAgreement(histories);
  });
});

describe('checkLinearizable: state budget', () => {
  // Ten concurrent puts, each read by a concurrent get so no value is dead,
  // then two sequential gets that disagree: refuting it means trying every
  // order of the puts (at least 2^10 done sets).
  const puts = Array.from({ length: 10 }, (_, i) => op(i, i, 'put', `v${i}`, 0, 100));
  const reads = Array.from({ length: 10 }, (_, i) => op(10 + i, 10 + i, 'get', `v${i}`, 0, 100));
  const contradiction = [...puts, ...reads, op(20, 20, 'get', 'v0', 101, 102), op(21, 20, 'get', 'v1', 103, 104)];

  it('refutes the crafted history with the default budget', () => {
    const result = checkLinearizable(contradiction);
    expect(result.ok).toBe(false);
    expect(result.statesExplored).toBeGreaterThan(1024);
  });

  it('returns inconclusive when the budget runs out, and counts exactly the budget', () => {
    expect(checkLinearizable(contradiction, { stateBudgetMax: 100 })).toEqual({ ok: true, inconclusive: true, statesExplored: 100 });
  });

  it('still reports another key that fails within the budget', () => {
    const bad = [op(30, 1, 'put', 'a', 0, 1, 'bad'), op(31, 1, 'get', 'b', 2, 3, 'bad')];
    expect(checkLinearizable([...contradiction, ...bad], { stateBudgetMax: 100 })).toMatchObject({ ok: false, key: 'bad' });
  });

  it('rejects a budget below one', () => {
    expect(() => checkLinearizable([], { stateBudgetMax: 0 })).toThrow(LinearizabilityInputError);
  });
});

describe('checkLinearizable: malformed input', () => {
  it('rejects duplicate op ids', () => {
    expect(() => checkLinearizable([op(1, 1, 'put', 'a', 0, 1), op(1, 2, 'get', 'a', 2, 3)])).toThrow(/appears twice/);
  });

  it('rejects a response before its invoke', () => {
    expect(() => checkLinearizable([op(1, 1, 'put', 'a', 5, 4)])).toThrow(/before its invoke/);
  });
});
