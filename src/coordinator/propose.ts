import * as grpc from '@grpc/grpc-js';

import { assert } from '../common/assert.js';
import type { RaftNode } from '../raft/index.js';
import { encodeCommand, InvalidArgumentError, type Command } from './codec.js';
import { ServiceError } from './grpc-errors.js';
import type { ApplyOk, ApplyResult } from './kv-machine.js';
import { encodeOrchCommandOffLoop, type OrchCommand, type OrchResultOf } from './orchestrator/commands.js';
import { entryFeatureLevel, featureLevel } from './feature-level.js';

/**
 * The one way this node proposes a write: stamped with the leader's clock,
 * bounded by a deadline, refused commands raised as InvalidArgumentError.
 * Orchestrator commands come back typed by their command (OrchResults in
 * orchestrator/commands.ts), so no caller casts a result.
 */

/** Longest a write waits for its commit before the caller is told to retry. */
export const proposalTimeoutMs = 10_000;

export interface ProposeOptions {
  /** When to stop waiting, on the proposer's clock; the outcome is then unknown (ServiceError 'timeout'). */
  readonly deadlineMs: number;
  /** '' or absent: none. A repeat of a key is answered as a duplicate, never applied twice. */
  readonly idempotencyKey?: string;
}

/** An applied orchestrator command. */
export interface Proposed<R> {
  /** The command's result; null when `duplicate` (the first result is not kept). */
  readonly value: R | null;
  readonly duplicate: boolean;
  readonly index: number;
}

/** Proposes orchestrator commands; the leader's loops take this interface, so tests give them a fake. */
export interface Proposer {
  propose<C extends OrchCommand>(command: C, options: ProposeOptions): Promise<Proposed<OrchResultOf<C['type']>>>;
}

/**
 * A Proposer on a Raft node, stamping and timing with `nowMs`, writing each
 * command in the newest form `clusterFeatureLevel()` allows
 * (feature-level.ts; absent: this build's own level).
 */
export function nodeProposer(node: RaftNode<ApplyResult>, nowMs: () => number, clusterFeatureLevel: () => number = () => featureLevel): Proposer {
  return { propose: (command, options) => proposeOrch(node, nowMs, clusterFeatureLevel, command, options) };
}

async function proposeOrch<C extends OrchCommand>(
  node: RaftNode<ApplyResult>,
  nowMs: () => number,
  clusterFeatureLevel: () => number,
  command: C,
  options: ProposeOptions,
): Promise<Proposed<OrchResultOf<C['type']>>> {
  // A large command deflates on the thread pool meanwhile, so a smaller one
  // proposed after it may reach the log first: every caller that needs an
  // order awaits the first proposal's commit, and each command is checked
  // when applied.
  const taskDeltas = command.type !== 'submit-run' || clusterFeatureLevel() >= entryFeatureLevel.submitRunDeltas;
  const { payload, deflated } = await encodeOrchCommandOffLoop(command, { taskDeltas });
  const entry: Command = { idempotencyKey: options.idempotencyKey ?? '', proposedAtMs: nowMs(), op: { type: 'orch', payload, deflated } };
  const result = await commitWithin(node, entry, options.deadlineMs - nowMs());
  assert(result.kind === 'orch', `orchestrator command answered as ${result.kind}`);
  // The one place a result is typed: Orchestrator.apply checks each command's result against OrchResults.
  return { value: result.value as OrchResultOf<C['type']> | null, duplicate: result.duplicate, index: result.index };
}

/**
 * Proposes one encoded command and waits for it to be applied, at most
 * `timeoutMs` (at least 1 ms). Throws InvalidArgumentError when every
 * replica refused it, ServiceError 'timeout' past the wait.
 */
export async function commitWithin(node: RaftNode<ApplyResult>, command: Command, timeoutMs: number): Promise<ApplyOk> {
  const data = encodeCommand(command);
  const waitMs = Math.max(1, timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ServiceError(grpc.status.DEADLINE_EXCEEDED, 'timeout', true, `write not committed within ${waitMs} ms; its outcome is unknown, retry it`)),
      waitMs,
    );
  });
  try {
    const result = await Promise.race([node.propose(data), timeout]);
    if (!result.ok) throw new InvalidArgumentError('command', result.message);
    return result;
  } finally {
    clearTimeout(timer);
  }
}
