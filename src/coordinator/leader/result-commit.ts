import { assert } from '../../common/assert.js';
import type { AttemptResult } from '../../model/index.js';
import type { ResultsOutcome } from '../orchestrator/state.js';
import { leaderProposal, type LeaderHost } from './host.js';
import { acceptableResult, malformedResult, type IntakeHost } from './result-intake.js';
import type { SessionTable } from './session-table.js';

/** Results in one log entry. */
export const resultBatchMax = 512;
/** Result batches proposed and not yet applied. */
export const resultBatchesInflightMax = 4;
/** Results waiting to be proposed; beyond this a session's results are refused (the worker resends later). */
export const pendingResultsMax = 20_000;
/** Wait before proposing results again after a failed proposal. */
export const resultRetryDelayMs = 200;

/**
 * Commits the results workers send: they wait in `pending` (one per
 * attempt, at most `pendingResultsMax`), go out in batches of at most
 * `resultBatchMax`, at most `resultBatchesInflightMax` batches at once, and
 * each worker hears `committed` for its results once they are applied (its
 * outbox may then drop them). A batch that fails goes back to `pending`
 * while this node leads; after a step down the workers resend theirs to the
 * next leader.
 */
export class ResultCommit {
  private leading = false;
  private readonly pending = new Map<string, AttemptResult>();
  private batchesInflight = 0;
  private readonly intake: IntakeHost;

  constructor(
    private readonly host: LeaderHost,
    private readonly table: SessionTable,
    /** Asks for a scheduling pass: committed results free slots. */
    private readonly kick: () => void,
  ) {
    this.intake = { log: host.log, attemptWorker: (id) => host.orchestrator.attemptWorker(id), onResultRefused: (reason) => host.onResultRefused?.(reason) };
  }

  start(): void {
    this.leading = true;
  }

  /** Stepped down: pending results are dropped (the workers resend them to the next leader). */
  stop(): void {
    this.leading = false;
    this.pending.clear();
  }

  /** Results waiting to be proposed. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get inflightBatches(): number {
    return this.batchesInflight;
  }

  /** Takes the results a worker sent (JSON each) and proposes what it can. */
  receive(workerId: string, raw: readonly string[]): void {
    for (const text of raw) {
      if (this.pending.size >= pendingResultsMax) {
        this.host.log.warn({ pending: this.pending.size }, 'result queue full; the worker will resend');
        break;
      }
      const result = acceptableResult(this.intake, workerId, text);
      if (result !== null) this.pending.set(result.attemptId, result);
    }
    this.flush();
  }

  private flush(): void {
    while (this.leading && this.pending.size > 0 && this.batchesInflight < resultBatchesInflightMax) {
      const batch: AttemptResult[] = [];
      for (const [id, result] of this.pending) {
        batch.push(result);
        this.pending.delete(id);
        if (batch.length >= resultBatchMax) break;
      }
      this.batchesInflight++;
      assert(this.batchesInflight <= resultBatchesInflightMax, `${this.batchesInflight} result batches in flight`);
      void this.commit(batch).finally(() => {
        this.batchesInflight--;
        assert(this.batchesInflight >= 0, 'a result batch ended twice');
        this.flush();
      });
    }
  }

  private async commit(batch: readonly AttemptResult[]): Promise<void> {
    try {
      const outcome = await this.propose(batch);
      if (outcome !== 'split') this.confirm(batch, outcome);
    } catch (error) {
      // Not committed, or the outcome is unknown. Still leading: try again
      // shortly (a duplicate is answered as such, never counted twice). Not
      // leading: the workers resend from their outboxes to the next leader.
      this.host.log.warn({ err: error, results: batch.length }, 'could not commit results');
      if (!this.leading) return;
      for (const result of batch) if (!this.pending.has(result.attemptId) && this.pending.size < pendingResultsMax) this.pending.set(result.attemptId, result);
      await new Promise((resolve) => setTimeout(resolve, resultRetryDelayMs).unref());
    }
  }

  /**
   * Proposes one batch. A batch too big for one log entry (the encoder
   * refuses it before proposing) is halved, each half committed on its own
   * ('split'); a lone result too big is shrunk to a malformed report.
   */
  private async propose(batch: readonly AttemptResult[]): Promise<ResultsOutcome | null | 'split'> {
    try {
      return (await this.host.proposer.propose({ type: 'results', results: batch }, leaderProposal(this.host))).value;
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await Promise.all([this.commit(batch.slice(0, half)), this.commit(batch.slice(half))]);
        return 'split';
      }
      const shrunk = malformedResult(batch[0]!, `the result is too large for the log: ${error.message}`);
      return (await this.host.proposer.propose({ type: 'results', results: [shrunk] }, leaderProposal(this.host))).value;
    }
  }

  /** Tells each worker which of its results are committed. */
  private confirm(batch: readonly AttemptResult[], value: ResultsOutcome | null): void {
    const byWorker = new Map<string, string[]>();
    for (const result of batch) {
      const list = byWorker.get(result.workerId) ?? [];
      list.push(result.attemptId);
      byWorker.set(result.workerId, list);
    }
    for (const [workerId, attemptIds] of byWorker) this.table.write(workerId, { committed: { attemptIds } });
    if (value !== null) this.host.onResults?.(value.statuses);
    const late = value?.statuses.filter((s) => s.status === 'late').length ?? 0;
    if (late > 0) this.host.log.info({ late }, 'late results recorded (not counted)');
    this.kick();
  }
}
