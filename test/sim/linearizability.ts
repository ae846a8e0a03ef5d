/**
 * Linearizability checker for the simulator's key-value client histories.
 *
 * Model: one register per key, initially null; `put(k, v)` sets it, `get(k)`
 * must return its current value. A key-value history is linearizable iff each
 * key's sub-history is (P-compositionality, Herlihy & Wing), so each key is
 * searched on its own, in sorted key order so the reported key does not depend
 * on the order of the history.
 *
 * Search: Wing & Gong's backtracking over a doubly linked list of call and
 * return events sorted by time, with Lowe's memoisation ("Testing for
 * linearizability", 2017) of (set of ops already done, register value): the
 * future of the search depends on nothing else, so a pair seen once has
 * already failed and is not explored again. RegisterSearch adds reductions
 * that only a register allows (legal reads go first, unread values are alike).
 *
 * Equal steps: a response at step s happens-before an invocation only at a
 * strictly later step; a response and an invocation at the same step are
 * concurrent. Events within one simulator step have no recorded order, so the
 * checker must not invent one: that would report anomalies the run never
 * showed. Events are sorted with calls before returns at the same step.
 *
 * Unknown outcomes (`responseStep === null`):
 * - a get has no observable effect and is dropped;
 * - a put may take effect at any point after its invocation, or never. It is
 *   optional: when the search reaches its return event without having
 *   linearized it, it is left out (a search move that changes no state). Its
 *   only observable effect is through gets returning its value, so placing it
 *   after the last such get (in linearization order) is the same as leaving it
 *   out. Its return event is therefore put at the latest response step of the
 *   completed gets that return its value, and a put that no completed get could
 *   have observed is dropped. Without that bound each unknown-outcome put would
 *   stay pending to the end of the history, doubling the states to explore.
 *
 * Complexity: states are pairs (done set, value). The done set is "every op
 * returned before the frontier, plus a subset of the ops concurrent there", so
 * with n ops, c concurrent and d distinct values the worst case is about
 * n * 2^c * d states, reached when many concurrent puts all have live readers
 * (the budget test builds one). With the reductions in RegisterSearch, atomic
 * register histories of 300 ops from 10 clients explore a few states per op
 * (about 1,000 states, a few ms). Each state costs O(n / 16) for its memo key
 * plus a scan of the candidates; at the default budget a key gives up after
 * about a second. `stateBudgetMax` caps the states per key so a pathological
 * history cannot hang the simulator.
 */

export type OpKind = 'put' | 'get';

export interface HistoryOp {
  readonly id: number; // unique per history
  readonly clientId: number;
  readonly kind: OpKind;
  readonly key: string;
  /** put: the value written. get: the value observed (null = key absent). Ignored for a get whose outcome is unknown. */
  readonly value: string | null;
  readonly invokeStep: number; // logical time the client invoked it
  /** logical time the response arrived; null when the outcome is unknown (the client gave up / timed out / its node crashed): the op may have taken effect at any time after invoke, or never. */
  readonly responseStep: number | null;
}

export interface CheckResult {
  readonly ok: boolean;
  /** When !ok: the key whose sub-history is not linearizable, and a short human explanation (e.g. the ops of that key in invoke order, and the longest linearizable prefix found). */
  readonly key?: string;
  readonly explanation?: string;
  /** True when the search gave up because it hit stateBudgetMax (result then counts as ok:true but inconclusive). */
  readonly inconclusive?: boolean;
  readonly statesExplored: number;
}

export interface CheckOptions {
  /** Memoised search states allowed per key before the key is called inconclusive. */
  readonly stateBudgetMax?: number;
}

/** Enough for a few hundred ops per key at concurrency 10, small enough to bound one check to about a second. */
export const STATE_BUDGET_MAX_DEFAULT = 200_000;

/** Above this many ops per key the explanation shows only the ops around the failure. */
const EXPLANATION_OPS_MAX = 20;
const EXPLANATION_PREFIX_TAIL_OPS = 5;
const EXPLANATION_PENDING_OPS_MAX = 10;

export class LinearizabilityInputError extends Error {
  override readonly name = 'LinearizabilityInputError';
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new LinearizabilityInputError(message);
}

export function checkLinearizable(history: readonly HistoryOp[], options?: CheckOptions): CheckResult {
  const stateBudgetMax = options?.stateBudgetMax ?? STATE_BUDGET_MAX_DEFAULT;
  assert(Number.isInteger(stateBudgetMax) && stateBudgetMax >= 1, `stateBudgetMax ${stateBudgetMax} must be a positive integer`);
  validateHistory(history);

  const opsByKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    const ops = opsByKey.get(op.key);
    if (ops === undefined) opsByKey.set(op.key, [op]);
    else ops.push(op);
  }

  let statesExplored = 0;
  let inconclusive = false;
  for (const key of [...opsByKey.keys()].sort()) {
    const result = checkKey(key, opsByKey.get(key) ?? [], stateBudgetMax);
    statesExplored += result.statesExplored;
    if (result.outcome === 'fail') return { ok: false, key, explanation: result.explanation, statesExplored };
    if (result.outcome === 'inconclusive') inconclusive = true;
  }
  return inconclusive ? { ok: true, inconclusive, statesExplored } : { ok: true, statesExplored };
}

function validateHistory(history: readonly HistoryOp[]): void {
  const ids = new Set<number>();
  for (const op of history) {
    assert(!ids.has(op.id), `op id ${op.id} appears twice`);
    ids.add(op.id);
    assert(op.kind === 'put' || op.kind === 'get', `op #${op.id} has kind ${String(op.kind)}`);
    assert(Number.isFinite(op.invokeStep), `op #${op.id} invokeStep ${op.invokeStep} is not finite`);
    if (op.responseStep !== null) {
      assert(Number.isFinite(op.responseStep), `op #${op.id} responseStep ${op.responseStep} is not finite`);
      assert(op.responseStep >= op.invokeStep, `op #${op.id} responds at ${op.responseStep} before its invoke at ${op.invokeStep}`);
    }
  }
}

/** One op as the search sees it: the window it may take effect in, and whether it may be left out. */
interface SearchOp {
  readonly op: HistoryOp;
  readonly callStep: number;
  readonly returnStep: number;
  readonly optional: boolean;
}

interface KeyResult {
  readonly outcome: 'ok' | 'fail' | 'inconclusive';
  readonly statesExplored: number;
  readonly explanation?: string;
}

function checkKey(key: string, ops: readonly HistoryOp[], stateBudgetMax: number): KeyResult {
  const searchOps = prepareOps(ops);
  const unexplained = findUnexplainedRead(searchOps);
  if (unexplained !== undefined) {
    const explanation =
      `key ${JSON.stringify(key)}: ${formatOp(unexplained)} observed a value no put on this key ` +
      `invoked by step ${String(unexplained.responseStep)} writes.\n` +
      formatOpsInInvokeOrder(ops);
    return { outcome: 'fail', statesExplored: 0, explanation };
  }

  const search = new RegisterSearch(searchOps, stateBudgetMax);
  const outcome = search.run();
  const statesExplored = search.statesExplored();
  if (outcome !== 'fail') return { outcome, statesExplored };
  return { outcome, statesExplored, explanation: explainFailure(key, ops, searchOps, search.bestPrefix()) };
}

/** Drops unknown-outcome gets and unobservable unknown-outcome puts; bounds the rest (see the file comment). */
function prepareOps(ops: readonly HistoryOp[]): SearchOp[] {
  const latestReadStep = new Map<string | null, number>();
  for (const op of ops) {
    if (op.kind !== 'get' || op.responseStep === null) continue;
    latestReadStep.set(op.value, Math.max(latestReadStep.get(op.value) ?? -Infinity, op.responseStep));
  }

  const searchOps: SearchOp[] = [];
  for (const op of ops) {
    if (op.responseStep !== null) {
      searchOps.push({ op, callStep: op.invokeStep, returnStep: op.responseStep, optional: false });
      continue;
    }
    if (op.kind === 'get') continue;
    const lastRead = latestReadStep.get(op.value);
    if (lastRead === undefined || lastRead < op.invokeStep) continue;
    searchOps.push({ op, callStep: op.invokeStep, returnStep: lastRead, optional: true });
  }
  searchOps.sort((a, b) => a.callStep - b.callStep || a.op.id - b.op.id);
  return searchOps;
}

/** A completed get of a non-null value that no put could have written: cheap to find, and clearer than a failed search. */
function findUnexplainedRead(searchOps: readonly SearchOp[]): HistoryOp | undefined {
  const earliestWriteStep = new Map<string | null, number>();
  for (const { op } of searchOps) {
    if (op.kind !== 'put') continue;
    earliestWriteStep.set(op.value, Math.min(earliestWriteStep.get(op.value) ?? Infinity, op.invokeStep));
  }
  for (const { op, returnStep } of searchOps) {
    if (op.kind !== 'get' || op.value === null) continue;
    const written = earliestWriteStep.get(op.value);
    if (written === undefined || written > returnStep) return op;
  }
  return undefined;
}

const STATE_ILLEGAL = -1;
/** Memo stand-in for any value no remaining get reads: such values have the same future. */
const STATE_DEAD = -2;
/** Register values are interned to small integers; 0 is null (absent). */
const VALUE_NULL = 0;

/** A put chosen among the candidate calls; backtracking tries the calls after it. */
const STEP_BRANCH = 0;
/** A get that is legal now, taken without branching; backtracking past it fails its state. */
const STEP_READ = 1;
/** An optional put left out: at its return, the last choice at its state, or once no remaining get reads it. */
const STEP_OMIT = 2;
/** A put no remaining get reads, linearized just before a branch's put and undone with it. */
const STEP_ABSORB = 3;

/** A step of the search that the stack can undo: an op linearized, or an optional op left out. */
interface SearchStep {
  readonly opIndex: number;
  readonly omitted: boolean;
}

/**
 * Wing & Gong's search for one key. Events live in a doubly linked list over
 * indices [0, 2n) plus two sentinels; `lift` unlinks an op's call and return,
 * `unlift` relinks them in reverse order (dancing links), so undo follows the
 * stack exactly. The candidates at a state are the calls before the first
 * return left in the list.
 *
 * Reductions that hold for a register and keep real histories near greedy.
 * Each rests on one fact: only gets look at the value, so a value no remaining
 * get reads ("dead") is as good as any other dead value.
 * - A candidate get of the current value goes first, without branching: in any
 *   linearization from this state it can move to the front, since nothing
 *   remaining must precede it and it changes nothing.
 * - A candidate optional put of a dead value is left out, without branching:
 *   dropping it from any linearization leaves one.
 * - Branching on a put first linearizes every other candidate put of a dead
 *   value (STEP_ABSORB): in any linearization from here those puts can move to
 *   the front, because the first op there is a put (no get is legal now) that
 *   hides what they wrote. Only the state after the branch's put is memoised;
 *   the states in between were not explored in full.
 * - The memo key folds every dead value into STATE_DEAD.
 */
class RegisterSearch {
  private readonly opCount: number;
  private readonly head: number;
  private readonly tail: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly eventOp: Int32Array;
  private readonly eventIsCall: Uint8Array;
  private readonly callEvent: Int32Array;
  private readonly returnEvent: Int32Array;
  private readonly opValue: Int32Array;
  private readonly opIsPut: Uint8Array;
  private readonly opOptional: Uint8Array;
  /** Per interned value: gets of it not yet linearized. */
  private readonly remainingReads: Int32Array;
  private readonly doneBits: Uint16Array;
  private readonly seen = new Set<string>();
  private readonly stackOp: Int32Array;
  private readonly stackPrevState: Int32Array;
  private readonly stackKind: Uint8Array;
  private depth = 0;
  private state = VALUE_NULL;
  private budgetExhausted = false;
  private best: SearchStep[] = [];
  /** The stack is deeper than `best` holds; copied on the next pop, since copying at every new depth costs O(n^2). */
  private bestStale = false;
  private bestDepth = 0;

  constructor(
    private readonly ops: readonly SearchOp[],
    private readonly stateBudgetMax: number,
  ) {
    const n = ops.length;
    this.opCount = n;
    this.head = 2 * n;
    this.tail = 2 * n + 1;
    this.next = new Int32Array(2 * n + 2);
    this.prev = new Int32Array(2 * n + 2);
    this.eventOp = new Int32Array(2 * n);
    this.eventIsCall = new Uint8Array(2 * n);
    this.callEvent = new Int32Array(n);
    this.returnEvent = new Int32Array(n);
    this.opValue = new Int32Array(n);
    this.opIsPut = new Uint8Array(n);
    this.opOptional = new Uint8Array(n);
    this.remainingReads = new Int32Array(n + 1);
    this.doneBits = new Uint16Array(Math.ceil(n / 16));
    this.stackOp = new Int32Array(n);
    this.stackPrevState = new Int32Array(n);
    this.stackKind = new Uint8Array(n);
    this.internValues();
    this.buildEventList();
  }

  statesExplored(): number {
    return this.seen.size;
  }

  /** The deepest stack reached: a longest prefix of a linearization, with left-out ops marked. */
  bestPrefix(): readonly SearchStep[] {
    if (this.bestStale) this.recordBest();
    return this.best;
  }

  run(): 'ok' | 'fail' | 'inconclusive' {
    let event = this.tail;
    let fresh = true; // just entered a state: forced steps, if any, go first
    while (true) {
      if (this.budgetExhausted) return 'inconclusive';
      let resume = false;
      if (fresh) {
        fresh = false;
        const forced = this.findForcedStep();
        if (forced === undefined) event = this.next[this.head] ?? this.tail;
        else if (this.maybeEnter(forced.opIndex, forced.after, forced.kind)) fresh = true;
        else resume = true; // the forced step could go first from here, and that state already failed
      } else if (event === this.tail) {
        assert(this.depth === this.opCount, `search ended with ${this.depth} of ${this.opCount} ops done`);
        return 'ok';
      } else {
        const opIndex = this.eventOp[event] ?? -1;
        if (this.eventIsCall[event] === 1) {
          if (this.opIsPut[opIndex] === 1 && this.maybeBranch(opIndex)) fresh = true;
          else event = this.next[event] ?? this.tail;
        } else if (this.opOptional[opIndex] === 1 && this.maybeEnter(opIndex, this.state, STEP_OMIT)) {
          fresh = true;
        } else {
          resume = true; // an op must be linearized before its return, and none of the calls before it worked
        }
      }
      if (resume && !this.budgetExhausted) {
        const resumed = this.backtrack();
        if (resumed === undefined) return 'fail';
        event = resumed;
      }
    }
  }

  /** Among the candidates: a get of the current value, or an optional put no remaining get reads. */
  private findForcedStep(): { opIndex: number; after: number; kind: number } | undefined {
    for (let event = this.next[this.head] ?? this.tail; event !== this.tail; event = this.next[event] ?? this.tail) {
      if (this.eventIsCall[event] !== 1) return undefined;
      const opIndex = this.eventOp[event] ?? -1;
      if (this.opIsPut[opIndex] === 0) {
        if (this.opValue[opIndex] === this.state) return { opIndex, after: this.state, kind: STEP_READ };
      } else if (this.opOptional[opIndex] === 1 && this.isDead(this.opValue[opIndex] ?? -1)) {
        return { opIndex, after: this.state, kind: STEP_OMIT };
      }
    }
    return undefined;
  }

  /** Linearizes `putIndex` next, after absorbing every other candidate put no remaining get reads. */
  private maybeBranch(putIndex: number): boolean {
    const absorbed: number[] = [];
    for (let event = this.next[this.head] ?? this.tail; event !== this.tail; event = this.next[event] ?? this.tail) {
      if (this.eventIsCall[event] !== 1) break;
      const opIndex = this.eventOp[event] ?? -1;
      const deadPut = this.opIsPut[opIndex] === 1 && this.opOptional[opIndex] === 0 && this.isDead(this.opValue[opIndex] ?? -1);
      if (deadPut && opIndex !== putIndex) absorbed.push(opIndex);
    }
    const depthBefore = this.depth;
    for (const opIndex of absorbed) this.push(opIndex, this.opValue[opIndex] ?? STATE_ILLEGAL, STEP_ABSORB);
    if (this.maybeEnter(putIndex, this.opValue[putIndex] ?? STATE_ILLEGAL, STEP_BRANCH)) return true;
    while (this.depth > depthBefore) this.pop();
    return false;
  }

  private isDead(value: number): boolean {
    return (this.remainingReads[value] ?? 0) === 0;
  }

  /** Takes the step unless (done set, value after it) was already explored or the budget is spent. */
  private maybeEnter(opIndex: number, after: number, kind: number): boolean {
    this.markDone(opIndex, kind);
    const memoKey = `${String.fromCharCode(...this.doneBits)}|${this.isDead(after) ? STATE_DEAD : after}`;
    this.unmarkDone(opIndex, kind);
    const seen = this.seen.has(memoKey);
    if (seen || this.seen.size >= this.stateBudgetMax) {
      this.budgetExhausted = !seen;
      return false;
    }
    this.seen.add(memoKey);
    this.push(opIndex, after, kind);
    return true;
  }

  private push(opIndex: number, after: number, kind: number): void {
    assert(this.depth < this.opCount, `search stack overflow at op ${opIndex}`);
    this.markDone(opIndex, kind);
    this.stackOp[this.depth] = opIndex;
    this.stackPrevState[this.depth] = this.state;
    this.stackKind[this.depth] = kind;
    this.depth++;
    this.state = after;
    this.lift(opIndex);
    if (this.depth > this.bestDepth) {
      this.bestDepth = this.depth;
      this.bestStale = true;
    }
  }

  /** Undoes the newest step and returns its op and kind. */
  private pop(): { opIndex: number; kind: number } {
    assert(this.depth > 0, 'pop of an empty search stack');
    if (this.bestStale) this.recordBest();
    this.depth--;
    const opIndex = this.stackOp[this.depth] ?? -1;
    const kind = this.stackKind[this.depth] ?? STEP_BRANCH;
    this.unlift(opIndex);
    this.unmarkDone(opIndex, kind);
    this.state = this.stackPrevState[this.depth] ?? STATE_ILLEGAL;
    return { opIndex, kind };
  }

  /** Undoes steps until a branch leaves calls to try; returns the event after that branch's call, or undefined when none is left. */
  private backtrack(): number | undefined {
    while (this.depth > 0) {
      const { opIndex, kind } = this.pop();
      assert(kind !== STEP_ABSORB, `absorbed op ${opIndex} outside a branch`);
      if (kind !== STEP_BRANCH) continue; // a forced step failed, so did the state it was forced in
      while (this.depth > 0 && this.stackKind[this.depth - 1] === STEP_ABSORB) this.pop();
      return this.next[this.callEvent[opIndex] ?? -1] ?? this.tail;
    }
    return undefined;
  }

  private markDone(opIndex: number, kind: number): void {
    this.toggleDone(opIndex);
    if (kind === STEP_READ) this.addRemainingReads(opIndex, -1);
  }

  private unmarkDone(opIndex: number, kind: number): void {
    this.toggleDone(opIndex);
    if (kind === STEP_READ) this.addRemainingReads(opIndex, 1);
  }

  private addRemainingReads(opIndex: number, delta: number): void {
    const value = this.opValue[opIndex] ?? -1;
    const remaining = (this.remainingReads[value] ?? 0) + delta;
    assert(remaining >= 0, `value ${value} read more times than it has gets`);
    this.remainingReads[value] = remaining;
  }

  private recordBest(): void {
    const best: SearchStep[] = [];
    for (let i = 0; i < this.depth; i++) {
      best.push({ opIndex: this.stackOp[i] ?? -1, omitted: this.stackKind[i] === STEP_OMIT });
    }
    this.best = best;
    this.bestStale = false;
  }

  private toggleDone(opIndex: number): void {
    const word = opIndex >>> 4;
    this.doneBits[word] = (this.doneBits[word] ?? 0) ^ (1 << (opIndex & 15));
  }

  private lift(opIndex: number): void {
    this.unlink(this.callEvent[opIndex] ?? -1);
    this.unlink(this.returnEvent[opIndex] ?? -1);
  }

  private unlift(opIndex: number): void {
    this.relink(this.returnEvent[opIndex] ?? -1);
    this.relink(this.callEvent[opIndex] ?? -1);
  }

  private unlink(event: number): void {
    const before = this.prev[event] ?? -1;
    const after = this.next[event] ?? -1;
    assert(before >= 0 && after >= 0, `unlink of event ${event} outside the list`);
    this.next[before] = after;
    this.prev[after] = before;
  }

  private relink(event: number): void {
    const before = this.prev[event] ?? -1;
    const after = this.next[event] ?? -1;
    assert(this.next[before] === after && this.prev[after] === before, `relink of event ${event} out of stack order`);
    this.next[before] = event;
    this.prev[after] = event;
  }

  private internValues(): void {
    const index = new Map<string | null, number>([[null, VALUE_NULL]]);
    this.ops.forEach(({ op }, i) => {
      let value = index.get(op.value);
      if (value === undefined) {
        value = index.size;
        index.set(op.value, value);
      }
      this.opValue[i] = value;
      this.opIsPut[i] = op.kind === 'put' ? 1 : 0;
      if (op.kind === 'get') this.remainingReads[value] = (this.remainingReads[value] ?? 0) + 1;
    });
  }

  /** Sorts events by step, calls before returns at equal steps (equal steps are concurrent), and links them. */
  private buildEventList(): void {
    const events: { step: number; isCall: boolean; opIndex: number }[] = [];
    this.ops.forEach((op, opIndex) => {
      assert(op.callStep <= op.returnStep, `op #${op.op.id} returns before its call`);
      events.push({ step: op.callStep, isCall: true, opIndex }, { step: op.returnStep, isCall: false, opIndex });
      this.opOptional[opIndex] = op.optional ? 1 : 0;
    });
    events.sort((a, b) => a.step - b.step || Number(b.isCall) - Number(a.isCall) || a.opIndex - b.opIndex);
    let previous = this.head;
    events.forEach((event, i) => {
      this.eventOp[i] = event.opIndex;
      this.eventIsCall[i] = event.isCall ? 1 : 0;
      if (event.isCall) this.callEvent[event.opIndex] = i;
      else this.returnEvent[event.opIndex] = i;
      this.next[previous] = i;
      this.prev[i] = previous;
      previous = i;
    });
    this.next[previous] = this.tail;
    this.prev[this.tail] = previous;
    assert(events.length === 2 * this.opCount, 'every op has one call and one return event');
  }
}

function explainFailure(key: string, ops: readonly HistoryOp[], searchOps: readonly SearchOp[], best: readonly SearchStep[]): string {
  const linearized = best.filter((step) => !step.omitted).map((step) => searchOps[step.opIndex]?.op);
  const done = new Set(best.map((step) => step.opIndex));
  const pending = searchOps.filter((_, i) => !done.has(i)).map((searchOp) => searchOp.op);
  const dropped = ops.length - searchOps.length;
  const lines = [
    `key ${JSON.stringify(key)}: no linearization of its ${searchOps.length} ops` +
      (dropped > 0 ? ` (${dropped} unknown-outcome ops that no completed get could observe dropped)` : '') +
      '.',
    `Longest linearizable prefix (${linearized.length} ops, ${best.length - linearized.length} unknown-outcome puts left out)` +
      (linearized.length > EXPLANATION_PREFIX_TAIL_OPS ? `, last ${EXPLANATION_PREFIX_TAIL_OPS}` : '') +
      ':',
    ...linearized.slice(-EXPLANATION_PREFIX_TAIL_OPS).map((op) => `  ${op === undefined ? '?' : formatOp(op)}`),
    `Every extension of it fails. The ${pending.length} ops not in it, in invoke order` +
      (pending.length > EXPLANATION_PENDING_OPS_MAX ? `, first ${EXPLANATION_PENDING_OPS_MAX}` : '') +
      ':',
    ...pending.slice(0, EXPLANATION_PENDING_OPS_MAX).map((op) => `  ${formatOp(op)}`),
  ];
  if (ops.length <= EXPLANATION_OPS_MAX) lines.push(formatOpsInInvokeOrder(ops));
  return lines.join('\n');
}

function formatOpsInInvokeOrder(ops: readonly HistoryOp[]): string {
  const sorted = [...ops].sort((a, b) => a.invokeStep - b.invokeStep || a.id - b.id);
  const shown = sorted.slice(0, EXPLANATION_OPS_MAX).map((op) => `  ${formatOp(op)}`);
  const more = sorted.length > EXPLANATION_OPS_MAX ? [`  ... ${sorted.length - EXPLANATION_OPS_MAX} more`] : [];
  return ['Ops in invoke order:', ...shown, ...more].join('\n');
}

export function formatOp(op: HistoryOp): string {
  const value = JSON.stringify(op.value);
  const call = op.kind === 'put' ? `put(${value})` : `get -> ${op.responseStep === null ? '?' : value}`;
  return `#${op.id} client ${op.clientId} ${call} [${op.invokeStep}, ${op.responseStep ?? '?'}]`;
}
