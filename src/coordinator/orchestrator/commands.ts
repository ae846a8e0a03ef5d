import { promisify } from 'node:util';
import { deflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';

import type { AttemptResult, Capabilities, RunSubmission } from '../../model/index.js';
import type { BreakerConfig } from '../recovery/index.js';
import { ExtensionCommandError } from '../kv-machine.js';
import { orchPayloadBytesMax } from '../limits.js';
import type { WorkerState } from '../../model/index.js';
import type { AssignOutcome, CancelOutcome, RegisterOutcome, ResultsOutcome, WorkerLostOutcome } from './state.js';

/**
 * The orchestrator's replicated commands. Each is stamped by the leader with
 * `proposedAtMs` (the Command envelope); apply reads no clock.
 */
export type OrchCommand =
  | RegisterWorkerCommand
  | { readonly type: 'worker-lost'; readonly workerId: string; readonly reason: string }
  | { readonly type: 'drain-worker'; readonly workerId: string; readonly drain: boolean }
  | { readonly type: 'submit-run'; readonly runId: string; readonly submission: RunSubmission }
  | { readonly type: 'assign'; readonly assignments: readonly Assignment[] }
  /** Second attempts of straggling running tasks (hedging at the tail, hedging.ts). */
  | { readonly type: 'hedge'; readonly assignments: readonly Assignment[] }
  | { readonly type: 'results'; readonly results: readonly AttemptResult[] }
  | { readonly type: 'cancel-run'; readonly runId: string; readonly reason: string }
  | { readonly type: 'prune-runs'; readonly finishedBeforeMs: number }
  /** Ends queued tasks failed-infra, e.g. when no registered worker can meet their requirements. */
  | { readonly type: 'fail-tasks'; readonly taskIds: readonly string[]; readonly reason: string }
  /** A worker asked to reset (recovery level 3) is done, or failed to (then it is quarantined). */
  | { readonly type: 'worker-reset-done'; readonly workerId: string; readonly ok: boolean; readonly reason: string }
  /** An operator releases a quarantined, open or half-open worker: its breaker closes. */
  | { readonly type: 'release-worker'; readonly workerId: string; readonly reason: string }
  /** An operator releases a lost worker's id from its session key: the next registration under it binds a new key. */
  | { readonly type: 'forget-worker-key'; readonly workerId: string; readonly reason: string }
  /** An operator disables or re-enables a worker's breaker. */
  | { readonly type: 'set-breaker'; readonly workerId: string; readonly enabled: boolean; readonly reason: string }
  /** Changes the cluster's circuit-breaker settings (replicated, so every replica applies the same). */
  | { readonly type: 'set-breaker-config'; readonly config: Partial<BreakerConfig> };

export interface RegisterWorkerCommand {
  readonly type: 'register-worker';
  readonly workerId: string;
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly slots: number;
  readonly httpAddress: string;
  /** Attempts the worker is running now. */
  readonly running: readonly string[];
  /** Attempts whose results sit in the worker's outbox, not yet confirmed. */
  readonly pending: readonly string[];
  /**
   * Attempts a previous process of the worker started and died with (absent
   * in commands from before it existed: none). Each one still assigned to
   * the worker is lost, not sent again: the crash is a failure its breaker
   * sees, and the attempt's task follows the recovery ladder.
   */
  readonly interrupted?: readonly string[];
  /** Random per worker process; a new one under a known id is a restart ('' or absent: unknown). */
  readonly bootId?: string;
  /** The process found its predecessor's work-dir lock left behind: the predecessor crashed. */
  readonly uncleanStart?: boolean;
  /**
   * Hex SHA-256 of the session key the worker presented ('' or absent: none).
   * The first registration of an id binds it; a later one with another key
   * is refused (docs/security.md).
   */
  readonly sessionKeyHash?: string;
}

export interface Assignment {
  readonly taskId: string;
  readonly workerId: string;
}

export type OrchCommandType = OrchCommand['type'];

/** The command of one type. */
export type OrchCommandOf<T extends OrchCommandType> = Extract<OrchCommand, { readonly type: T }>;

/**
 * What applying each command gives back (the extension's result value), by
 * command type. `Orchestrator.apply` checks its dispatch against this map
 * (`satisfies`), so a proposer reads the result without a cast.
 */
export interface OrchResults {
  readonly 'register-worker': RegisterOutcome;
  readonly 'worker-lost': WorkerLostOutcome;
  readonly 'drain-worker': { readonly state: WorkerState };
  readonly 'submit-run': { readonly runId: string; readonly tasks: number };
  readonly assign: AssignOutcome;
  readonly hedge: AssignOutcome;
  readonly results: ResultsOutcome;
  readonly 'cancel-run': CancelOutcome;
  readonly 'prune-runs': { readonly pruned: readonly string[] };
  readonly 'fail-tasks': { readonly failed: readonly string[] };
  readonly 'worker-reset-done': { readonly resetting: boolean; readonly breaker: string };
  readonly 'release-worker': { readonly breaker: string };
  readonly 'forget-worker-key': { readonly wasBound: boolean };
  readonly 'set-breaker': { readonly breaker: string };
  readonly 'set-breaker-config': { readonly config: BreakerConfig };
}

/** The result of applying a command of type T. */
export type OrchResultOf<T extends OrchCommandType> = OrchResults[T];

/** Payloads above this many bytes are deflated. */
const deflateAboveBytes = 1024;
/** Largest JSON a payload may inflate to (a deflate bomb is refused). */
export const orchJsonBytesMax = 64 * 1024 * 1024;

export interface EncodedOrch {
  readonly payload: Uint8Array;
  readonly deflated: boolean;
}

/**
 * JSON from which a command is deflated on libuv's thread pool instead of on
 * the event loop: a submission written with every template in full was
 * megabytes of JSON for 20,000 tasks, and deflating it held the leader's loop
 * past the election timeout. Written as deltas (below) it is 60 KB for
 * 20,000 copies of a template, but most of a megabyte for 20,000 shards of
 * suites that each list hundreds of files.
 */
export const deflateOffLoopBytesMin = 64 * 1024;

/** How a command is written: `taskDeltas` false writes submit-run's templates in full, for a cluster with an older member (coordinator/feature-level.ts). */
export interface EncodeOptions {
  readonly taskDeltas?: boolean;
}

export function encodeOrchCommand(command: OrchCommand, options: EncodeOptions = {}): EncodedOrch {
  const json = commandJson(command, options);
  if (json.byteLength <= deflateAboveBytes) return { payload: json, deflated: false };
  return checkDeflated(deflateRawSync(json));
}

/** encodeOrchCommand, deflating large commands (from `deflateOffLoopBytesMin`) off the event loop; the same bytes. */
export async function encodeOrchCommandOffLoop(command: OrchCommand, options: EncodeOptions = {}): Promise<EncodedOrch> {
  const json = commandJson(command, options);
  if (json.byteLength <= deflateAboveBytes) return { payload: json, deflated: false };
  return checkDeflated(json.byteLength < deflateOffLoopBytesMin ? deflateRawSync(json) : await deflateRawAsync(json));
}

const deflateRawAsync = promisify(deflateRaw);

function commandJson(command: OrchCommand, options: EncodeOptions): Buffer {
  const wire = command.type === 'submit-run' && (options.taskDeltas ?? true) ? submitRunWire(command) : command;
  const json = Buffer.from(JSON.stringify(wire), 'utf8');
  if (json.byteLength > orchJsonBytesMax) throw new RangeError(`orchestrator command is ${json.byteLength} bytes of JSON, limit ${orchJsonBytesMax}`);
  return json;
}

function checkDeflated(payload: Buffer): EncodedOrch {
  if (payload.byteLength > orchPayloadBytesMax) {
    throw new RangeError(`orchestrator command deflates to ${payload.byteLength} bytes, limit ${orchPayloadBytesMax}; submit fewer tasks`);
  }
  return { payload, deflated: true };
}

const commandTypes: ReadonlySet<string> = new Set<OrchCommandType>([
  'register-worker',
  'worker-lost',
  'drain-worker',
  'submit-run',
  'assign',
  'hedge',
  'results',
  'cancel-run',
  'prune-runs',
  'fail-tasks',
  'worker-reset-done',
  'release-worker',
  'forget-worker-key',
  'set-breaker',
  'set-breaker-config',
]);

/** Decodes a payload; ExtensionCommandError when it is not an orchestrator command. */
export function decodeOrchCommand(payload: Uint8Array, deflated: boolean): OrchCommand {
  let json: Buffer;
  try {
    json = deflated ? inflateRawSync(payload, { maxOutputLength: orchJsonBytesMax }) : Buffer.from(payload);
  } catch (error) {
    throw new ExtensionCommandError(`orchestrator payload does not inflate: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw new ExtensionCommandError(`orchestrator payload is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || !commandTypes.has((value as { type?: unknown }).type as string)) {
    throw new ExtensionCommandError(`orchestrator payload has no known type`);
  }
  if ((value as { type: string }).type === 'submit-run' && 'taskDeltas' in value) return submitRunFromWire(value as SubmitRunWire);
  return value as OrchCommand;
}

// ------------------------------------------------------------ submit-run on the log

/**
 * submit-run as it is written to the log: the submission without its tasks,
 * and each task's template as the fields that differ from the task's before
 * it (the first against an empty template). A run's tasks are shards and
 * matrix cells of a few suites, so most differ from their neighbour in a
 * field or two (`shard`, `files`, `matrix`) or in none: 20,000 copies of one
 * template are 4.9 MB of JSON written out and 60 KB this way, and parsing
 * the JSON is most of what applying a large submission costs every replica
 * (docs/orchestrator.md, "How commands ride in the log"). A field the task
 * before had and this one lacks is written as null (no template field is
 * ever null). Entries with `submission.tasks` (written before this form)
 * still decode.
 */
interface SubmitRunWire {
  readonly type: 'submit-run';
  readonly runId: string;
  readonly submission: Omit<RunSubmission, 'tasks'>;
  readonly taskDeltas: readonly Record<string, unknown>[];
}

function submitRunWire(command: Extract<OrchCommand, { type: 'submit-run' }>): SubmitRunWire {
  const { tasks, ...rest } = command.submission;
  let before: Readonly<Record<string, unknown>> = {};
  const taskDeltas = tasks.map((template) => {
    const now = template as unknown as Readonly<Record<string, unknown>>;
    const delta: Record<string, unknown> = {};
    for (const key of Object.keys(now)) {
      const value = now[key];
      if (value !== undefined && !sameJson(value, before[key])) delta[key] = value;
    }
    for (const key of Object.keys(before)) if (before[key] !== undefined && now[key] === undefined) delta[key] = null;
    before = now;
    return delta;
  });
  return { type: 'submit-run', runId: command.runId, submission: rest, taskDeltas };
}

/** Rebuilds the templates; a task equal to the one before it shares its object (templates are never changed in place). */
function submitRunFromWire(wire: SubmitRunWire): OrchCommand {
  const { taskDeltas, submission } = wire;
  if (!Array.isArray(taskDeltas)) throw new ExtensionCommandError('submit-run: taskDeltas must be an array');
  if (typeof submission !== 'object' || submission === null || 'tasks' in submission) {
    throw new ExtensionCommandError('submit-run: a submission with taskDeltas carries no tasks of its own');
  }
  let before: Record<string, unknown> = {};
  const tasks = taskDeltas.map((delta: unknown, position) => {
    if (typeof delta !== 'object' || delta === null || Array.isArray(delta)) {
      throw new ExtensionCommandError(`submit-run: taskDeltas[${position}] is not an object`);
    }
    const keys = Object.keys(delta);
    if (keys.length === 0 && position > 0) return before;
    const next: Record<string, unknown> = { ...before };
    for (const key of keys) {
      if (key === '__proto__') throw new ExtensionCommandError(`submit-run: taskDeltas[${position}] names __proto__`);
      const value = (delta as Record<string, unknown>)[key];
      if (value === null) delete next[key];
      else next[key] = value;
    }
    before = next;
    return next;
  });
  return { type: 'submit-run', runId: wire.runId, submission: { ...submission, tasks: tasks as unknown as RunSubmission['tasks'] } };
}

/** Whether two JSON values (strings, numbers, booleans, arrays, plain objects) are equal; undefined equals only itself. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  for (let i = 0; i < ak.length; i++) {
    // Same keys in the same order: a nested object taken from the task before is the one this task sent.
    if (ak[i] !== bk[i] || !sameJson((a as Record<string, unknown>)[ak[i]!], (b as Record<string, unknown>)[bk[i]!])) return false;
  }
  return true;
}
