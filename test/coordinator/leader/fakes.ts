// The leader's unit tests run its parts against a real Orchestrator, a fake
// node (proposals wait until the test commits or rejects them) and vitest's
// fake clock (Date and the timers).

import { EventEmitter } from 'node:events';

import { pino } from 'pino';
import { vi } from 'vitest';

import type { LeaderHost } from '../../../src/coordinator/leader/index.js';
import type { SessionCall } from '../../../src/coordinator/leader/session-table.js';
import type { CoordinatorMessage } from '../../../src/model/index.js';
import type { OrchCommand, OrchResultOf } from '../../../src/coordinator/orchestrator/commands.js';
import type { ProposeOptions, Proposed, Proposer } from '../../../src/coordinator/propose.js';
import { sessionSettingsDefault } from '../../../src/coordinator/leader/index.js';
import { Driver } from '../orchestrator-fixtures.js';

export interface Proposal {
  readonly command: OrchCommand;
  readonly options: ProposeOptions;
  /** Applies the command to the orchestrator (at the fake clock's now) and resolves the proposal. */
  commit(): void;
  reject(error: Error): void;
}

/** A node that records proposals; each waits until the test commits or rejects it (or at once with `autoCommit`). */
export class FakeNode implements Proposer {
  /** Every proposal made, in order. */
  readonly proposals: Proposal[] = [];
  /** Proposals neither committed nor rejected yet. */
  readonly outstanding = new Set<Proposal>();
  autoCommit = false;
  /** Commands the encoder would refuse as too big for one log entry (RangeError, never proposed). */
  tooBig: (command: OrchCommand) => boolean = () => false;

  constructor(readonly driver: Driver) {}

  propose<C extends OrchCommand>(command: C, options: ProposeOptions): Promise<Proposed<OrchResultOf<C['type']>>> {
    if (this.tooBig(command)) return Promise.reject(new RangeError(`fake node: ${command.type} is too big for one entry`));
    return new Promise((resolve, reject) => {
      const proposal: Proposal = {
        command,
        options,
        commit: () => {
          if (!this.outstanding.delete(proposal)) throw new Error('fake node: proposal already settled');
          try {
            const value = this.driver.apply(command, Date.now()) as OrchResultOf<C['type']>;
            resolve({ value, duplicate: false, index: this.driver.index });
          } catch (error) {
            reject(error as Error);
          }
        },
        reject: (error) => {
          if (!this.outstanding.delete(proposal)) throw new Error('fake node: proposal already settled');
          reject(error);
        },
      };
      this.proposals.push(proposal);
      this.outstanding.add(proposal);
      if (this.autoCommit) queueMicrotask(() => proposal.commit());
    });
  }

  /** Proposals of one command type, in order. */
  ofType<T extends OrchCommand['type']>(type: T): Proposal[] {
    return this.proposals.filter((p) => p.command.type === type);
  }

  /** The outstanding proposals of one type. */
  pendingOfType<T extends OrchCommand['type']>(type: T): Proposal[] {
    return [...this.outstanding].filter((p) => p.command.type === type);
  }
}

export function silentLog(): LeaderHost['log'] {
  return pino({ level: 'silent' });
}

export function fakeHost(node: FakeNode, over: Partial<LeaderHost> = {}): LeaderHost {
  return {
    nodeId: 'n1',
    clusterId: 'c1',
    proposer: node,
    orchestrator: node.driver.o,
    log: silentLog(),
    settings: sessionSettingsDefault,
    leaderHint: () => ({ leaderId: 'n1', leaderAddress: '127.0.0.1:1' }),
    nowMs: () => Date.now(),
    ...over,
  };
}

/** A Worker.Session stream as the protocol sees it: what it is sent, whether it ended, the status it failed with. */
export class FakeCall extends EventEmitter {
  readonly written: CoordinatorMessage[] = [];
  readonly failures: { code?: number; details?: string }[] = [];
  cancelled = false;
  writableEnded = false;
  destroyed = false;
  writableLength = 0;

  constructor() {
    super();
    this.on('error', (error: { code?: number; details?: string }) => {
      this.failures.push(error);
      this.writableEnded = true;
    });
  }

  write(message: CoordinatorMessage): boolean {
    if (this.writableEnded) throw new Error('fake call: write after end');
    this.written.push(message);
    return true;
  }

  end(): void {
    this.writableEnded = true;
  }

  getPeer(): string {
    return 'ipv4:127.0.0.1:40000';
  }

  /** Messages of one kind sent on this stream. */
  sent<K extends string>(kind: K): unknown[] {
    return this.written.filter((m) => kind in m).map((m) => (m as Record<string, unknown>)[kind]);
  }

  asCall(): SessionCall {
    return this as unknown as SessionCall;
  }
}

/**
 * Lets promise callbacks and setImmediate work run under the fake clock.
 * It moves the clock 3 ms: a setImmediate queued exactly at the end of an
 * advance runs only once the clock moves on.
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await vi.advanceTimersByTimeAsync(1);
}
