/**
 * A scripted driver for RaftCore in the style of etcd-io/raft's datadriven
 * interaction tests (testdata/*.txt). A scenario file is a list of blocks:
 *
 *     # comments and blank lines between blocks are kept on rewrite
 *     campaign 1
 *     ----
 *     <expected output, no blank lines>
 *     <blank line ends the block>
 *
 * `InteractionEnv` plays every driver of a small in-memory cluster: it keeps
 * each node's MemoryStorage and a toy state machine (the list of applied
 * data), and a FIFO network that only moves when told to. Nothing here uses a
 * clock or Math.random: time is `tick*` commands, randomness is a SeededRng
 * per node whose seed derives from the node id, so output is reproducible.
 *
 * Commands (positional args, `key=value`, `key=(a,b)`):
 *
 *   add-nodes N voters=(1,2,3) [learners=(4)] [prevote=B] [checkquorum=B]
 *             [election=T] [heartbeat=T] [uncommitted-bytes-max=N]
 *             [learner-lag-max=N] [message-bytes-max=N] [inflight-max=N]
 *             [snapshot-timeout=T] [read-mode=safe|lease] [lease-safety=T]
 *       Creates N nodes with the next free ids on MemoryStorage.bootstrap(voters,
 *       learners). `voters=()` gives a node with an empty membership, as for a
 *       node that joins a running cluster.
 *   campaign ID                 Starts an election (pre-vote first if enabled).
 *   tick ID [N]                 N ticks (default 1).
 *   tick-election ID            Follower/candidate: ticks until it campaigns (a
 *                               vote request is sent or it wins alone), at most
 *                               2*electionTimeoutTicks, and prints how many
 *                               ticks that took. Leader: exactly
 *                               electionTimeoutTicks ticks, i.e. one
 *                               check-quorum round.
 *   tick-heartbeat ID           heartbeatIntervalTicks ticks.
 *   propose ID DATA             Prints the index/term or the error.
 *   propose-conf-change ID add-voter|add-learner|remove NODE
 *   transfer-leadership from=ID to=ID
 *   read-index ID CTX
 *   process-ready ID...         One Ready per node: persist, queue the
 *                               messages, apply, advance. Prints the Ready.
 *   deliver-msgs [ID...] [drop=(ID...)]
 *                               Delivers queued messages addressed to the
 *                               given nodes (all when none given) in FIFO
 *                               order; messages to nodes in `drop` are dropped.
 *   stabilize [ID...]           process-ready + deliver-msgs until quiet.
 *   isolate ID / heal           Messages to or from an isolated node are
 *                               dropped when delivered.
 *   compact ID INDEX            Snapshot the node's applied state at INDEX (at
 *                               most its applied index) with
 *                               storage.createSnapshot and compact its storage
 *                               up to INDEX.
 *   restart ID                  Crash and restart from storage: unsent
 *                               messages and volatile state are lost.
 *   raft-state | raft-log ID | status ID | app-state ID
 *
 * Node state changes (role or term) caused by a command are printed as
 * `INFO <id> became <role> at term <t>` lines.
 */
import {
  AssertionFailure,
  applyToConfState,
  ConfChangeError,
  ConfChangeType,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  MessageType,
  NotLeaderError,
  RAFT_DEFAULTS,
  RaftCore,
  RaftError,
  SeededRng,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type Ready,
  type Role,
  type Snapshot,
} from '../../src/raft/index.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Most process-ready/deliver rounds one `stabilize` may take before it is declared livelocked. */
const stabilizeRoundsMax = 500;

// ------------------------------------------------------------------ parsing

export interface CommandArg {
  readonly key: string | null;
  readonly values: readonly string[];
}

export interface Command {
  readonly name: string;
  readonly args: readonly CommandArg[];
}

export interface ScenarioBlock {
  /** Comment and blank lines that precede the command, kept on rewrite. */
  readonly preamble: readonly string[];
  readonly command: string;
  /** 1-based line number of the command. */
  readonly line: number;
  readonly expected: string;
}

export interface Scenario {
  readonly blocks: readonly ScenarioBlock[];
  /** Lines after the last block. */
  readonly trailer: readonly string[];
}

export function parseScenario(text: string, file: string): Scenario {
  const lines = text.split('\n');
  const blocks: ScenarioBlock[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      i++;
      continue;
    }
    const commandLine = i + 1;
    if (lines[i + 1] !== '----') throw new Error(`${file}:${commandLine}: expected "----" after command "${line}"`);
    i += 2;
    const output: string[] = [];
    while (i < lines.length && lines[i] !== '') output.push(lines[i++]!);
    i++; // the blank line that ends the block
    blocks.push({ preamble, command: line, line: commandLine, expected: output.join('\n') });
    preamble = [];
  }
  // A trailing newline splits into one empty string; do not keep it twice.
  while (preamble.length > 0 && preamble[preamble.length - 1] === '') preamble.pop();
  return { blocks, trailer: preamble };
}

/** The scenario text with each block's output replaced by `outputs[i]`. */
export function renderScenario(scenario: Scenario, outputs: readonly string[]): string {
  const out: string[] = [];
  scenario.blocks.forEach((block, i) => {
    out.push(...block.preamble, block.command, '----');
    const output = outputs[i] ?? '';
    if (output !== '') out.push(output);
    out.push('');
  });
  out.push(...scenario.trailer);
  return out.join('\n').replace(/\n*$/, '\n');
}

export function parseCommand(line: string): Command {
  const tokens: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of line.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (/\s/.test(ch) && depth === 0) {
      if (current !== '') tokens.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current !== '') tokens.push(current);
  const [name, ...rest] = tokens;
  if (name === undefined) throw new Error('empty command');
  return { name, args: rest.map(parseArg) };
}

function parseArg(token: string): CommandArg {
  const eq = token.indexOf('=');
  const key = eq < 0 ? null : token.slice(0, eq);
  const raw = eq < 0 ? token : token.slice(eq + 1);
  if (raw.startsWith('(') && raw.endsWith(')')) {
    const inner = raw.slice(1, -1).trim();
    return { key, values: inner === '' ? [] : inner.split(',').map((v) => v.trim()) };
  }
  return { key, values: [raw] };
}

// --------------------------------------------------------------- formatting

function list(ids: readonly string[]): string {
  return `(${ids.join(',')})`;
}

function formatConf(conf: ConfState): string {
  const learners = conf.learners.length > 0 ? ` learners=${list(conf.learners)}` : '';
  return `voters=${list(conf.voters)}${learners}`;
}

const confChangeNames: Record<ConfChangeType, string> = {
  [ConfChangeType.AddVoter]: 'add-voter',
  [ConfChangeType.AddLearner]: 'add-learner',
  [ConfChangeType.RemoveNode]: 'remove',
};

export function formatEntry(entry: Entry): string {
  if (entry.type === EntryType.ConfChange) {
    const change = decodeConfChange(entry.data, entry.index);
    return `${entry.index}/${entry.term} conf:${confChangeNames[change.type]}(${change.nodeId})`;
  }
  return `${entry.index}/${entry.term} ${JSON.stringify(textDecoder.decode(entry.data))}`;
}

function formatEntries(entries: readonly Entry[]): string {
  return `[${entries.map(formatEntry).join(', ')}]`;
}

function formatSnapshot(snapshot: Snapshot): string {
  const { index, term, confState } = snapshot.metadata;
  return `${index}/${term} ${formatConf(confState)} data=${textDecoder.decode(snapshot.data)}`;
}

function ctx(context: string): string {
  return context === '' ? '' : ` context=${context}`;
}

/** Lease mode: the leader tick a heartbeat (and its answer) carries. */
function sentTick(m: Message): string {
  return m.index === 0 ? '' : ` tick=${m.index}`;
}

/** One message on one line, showing only the fields its type uses. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type}`;
  switch (m.type) {
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} term=${m.term} logTerm=${m.logTerm} index=${m.index}${commitOf(m)}${ctx(m.context)}`;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      return `${head} term=${m.term} reject=${m.reject}${commitOf(m)}`;
    case MessageType.App:
      return `${head} term=${m.term} logTerm=${m.logTerm} index=${m.index} commit=${m.commit} entries=${formatEntries(m.entries)}`;
    case MessageType.AppResp:
      return m.reject
        ? `${head} term=${m.term} index=${m.index} reject=true rejectHint=${m.rejectHint} logTerm=${m.logTerm}`
        : `${head} term=${m.term} index=${m.index}`;
    case MessageType.Heartbeat:
      return `${head} term=${m.term}${sentTick(m)} commit=${m.commit}${ctx(m.context)}${m.reject ? ' reject=true' : ''}`;
    case MessageType.HeartbeatResp:
      return `${head} term=${m.term}${sentTick(m)}${ctx(m.context)}`;
    case MessageType.Snap:
      return `${head} term=${m.term} snapshot=${m.snapshot === null ? 'none' : formatSnapshot(m.snapshot)}`;
    case MessageType.TimeoutNow:
      return `${head} term=${m.term}`;
    case MessageType.ReadIndex:
      return `${head} context=${m.context}`;
    case MessageType.ReadIndexResp:
      return `${head} index=${m.index} context=${m.context}${m.reject ? ' reject=true' : ''}`;
    case MessageType.TransferLeader:
      return `${head}`;
  }
}

/** Raft errors are expected output; a broken core invariant is shown as a panic. */
function formatError(err: unknown): string {
  if (err instanceof AssertionFailure) return `panic: ${err.message}`;
  if (err instanceof ConfChangeError) return `error: ${err.name} (${err.reason}): ${err.message}`;
  if (err instanceof NotLeaderError) return `error: ${err.name} (leaderId=${err.leaderId || 'none'}): ${err.message}`;
  if (err instanceof Error) return `error: ${err.name}: ${err.message}`;
  return `error: ${String(err)}`;
}

function formatReady(id: NodeId, rd: Ready): string[] {
  const out = [`> ${id} handling Ready mustSync=${rd.mustSync}`];
  if (rd.softState !== null) out.push(`  soft-state: role=${rd.softState.role} leader=${rd.softState.leader || 'none'}`);
  if (rd.hardState !== null) out.push(`  hard-state: term=${rd.hardState.term} vote=${rd.hardState.vote || 'none'} commit=${rd.hardState.commit}`);
  if (rd.snapshot !== null) out.push(`  snapshot: ${formatSnapshot(rd.snapshot)}`);
  if (rd.entries.length > 0) out.push(`  entries: ${rd.entries.map(formatEntry).join(', ')}`);
  if (rd.committedEntries.length > 0) out.push(`  committed: ${rd.committedEntries.map(formatEntry).join(', ')}`);
  for (const line of groupIdentical(rd.messages.map(formatMessage))) out.push(`  send: ${line}`);
  for (const rs of rd.readStates) out.push(`  read-state: context=${rs.context} index=${rs.index}`);
  for (const rf of rd.readFailures) out.push(`  read-failure: context=${rf.context} reason=${rf.reason} leader=${rf.leader || 'none'}`);
  return out;
}

/** Identical lines (say, heartbeats piled up over many ticks) as one line with a count, in first-seen order. */
function groupIdentical(lines: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
  return [...counts].map(([line, count]) => (count === 1 ? line : `${line} (x${count})`));
}

/** Numeric ids sort as numbers ("10" after "9"); others as strings. */
function compareIds(a: NodeId, b: NodeId): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a of the id: a stable per-node seed. */
function seedFor(id: NodeId): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

// ------------------------------------------------------------------- nodes

/** RaftCore that notes when it asks for votes, so tick-election can tell a campaign fired. */
class ObservedCore extends RaftCore {
  voteRequestsSent = 0;

  protected override send(m: Message): void {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) this.voteRequestsSent++;
    super.send(m);
  }
}

interface AppliedItem {
  readonly index: number;
  readonly data: string;
}

interface TestNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  readonly config: RaftConfig;
  core: ObservedCore;
  /** The toy state machine: data of every applied non-empty normal entry. */
  appliedItems: AppliedItem[];
  /** Membership as of each applied conf change (and the snapshot it started from). */
  confHistory: { index: number; conf: ConfState }[];
}

interface InFlight {
  readonly message: Message;
  /** The node whose Ready carried the message (differs from `from` for a forwarded TransferLeader). */
  readonly sender: NodeId;
}

const configOptions: Record<string, { field: keyof RaftConfig; kind: 'boolean' | 'number' | 'string' }> = {
  prevote: { field: 'preVote', kind: 'boolean' },
  'read-mode': { field: 'readMode', kind: 'string' },
  'lease-safety': { field: 'leaseSafetyTicks', kind: 'number' },
  checkquorum: { field: 'checkQuorum', kind: 'boolean' },
  election: { field: 'electionTimeoutTicks', kind: 'number' },
  heartbeat: { field: 'heartbeatIntervalTicks', kind: 'number' },
  'uncommitted-bytes-max': { field: 'uncommittedBytesMax', kind: 'number' },
  'learner-lag-max': { field: 'learnerPromotionLagMax', kind: 'number' },
  'message-bytes-max': { field: 'messageBytesMax', kind: 'number' },
  'inflight-max': { field: 'inflightMessagesMax', kind: 'number' },
  'snapshot-timeout': { field: 'snapshotTimeoutTicks', kind: 'number' },
};

// --------------------------------------------------------------------- env

export class InteractionEnv {
  private readonly nodes = new Map<NodeId, TestNode>();
  private network: InFlight[] = [];
  private readonly isolated = new Set<NodeId>();

  /** Runs one command; Raft errors become output, harness misuse throws. */
  handle(line: string): string {
    const cmd = parseCommand(line);
    const out = this.dispatch(cmd);
    return out.filter((l) => l.trim() !== '').join('\n');
  }

  private dispatch(cmd: Command): string[] {
    switch (cmd.name) {
      case 'add-nodes':
        return this.addNodes(cmd);
      case 'campaign':
        return this.observe(this.nodeArg(cmd, 0), (n) => n.core.campaign());
      case 'tick':
        return this.tick(this.nodeArg(cmd, 0), Number(positional(cmd, 1) ?? '1'));
      case 'tick-election':
        return this.tickElection(this.nodeArg(cmd, 0));
      case 'tick-heartbeat': {
        const node = this.nodeArg(cmd, 0);
        return this.tick(node, node.config.heartbeatIntervalTicks ?? RAFT_DEFAULTS.heartbeatIntervalTicks);
      }
      case 'propose':
        return this.propose(cmd);
      case 'propose-conf-change':
        return this.proposeConfChange(cmd);
      case 'transfer-leadership':
        return this.observe(this.node(required(cmd, 'from')), (n) => n.core.transferLeadership(required(cmd, 'to')));
      case 'read-index':
        return this.observe(this.nodeArg(cmd, 0), (n) => n.core.readIndex(requiredPositional(cmd, 1)));
      case 'process-ready':
        return this.positionalNodes(cmd).flatMap((n) => this.processReady(n));
      case 'deliver-msgs':
        return this.deliverMsgs(cmd);
      case 'stabilize':
        return this.stabilize(this.positionalNodes(cmd));
      case 'isolate':
        this.isolated.add(this.nodeArg(cmd, 0).id);
        return [`isolated ${[...this.isolated].sort(compareIds).join(',')}`];
      case 'heal':
        this.isolated.clear();
        return ['healed'];
      case 'compact':
        return this.compact(this.nodeArg(cmd, 0), Number(requiredPositional(cmd, 1)));
      case 'restart':
        return this.restart(this.nodeArg(cmd, 0));
      case 'raft-state':
        return this.sortedNodes().map((n) => this.formatState(n));
      case 'raft-log':
        return this.raftLog(this.nodeArg(cmd, 0));
      case 'status':
        return this.status(this.nodeArg(cmd, 0));
      case 'app-state': {
        const node = this.nodeArg(cmd, 0);
        return [`${node.id}: applied=${node.core.status().applied} data=${list(node.appliedItems.map((i) => i.data))}`];
      }
      default:
        throw new Error(`unknown command "${cmd.name}"`);
    }
  }

  // ------------------------------------------------------------ commands

  private addNodes(cmd: Command): string[] {
    const count = Number(requiredPositional(cmd, 0));
    const voters = listArg(cmd, 'voters') ?? [];
    const learners = listArg(cmd, 'learners') ?? [];
    const options: Record<string, unknown> = {};
    for (const arg of cmd.args) {
      if (arg.key === null || arg.key === 'voters' || arg.key === 'learners') continue;
      const option = configOptions[arg.key];
      if (option === undefined) throw new Error(`add-nodes: unknown option ${arg.key}`);
      const value = arg.values[0] ?? '';
      options[option.field] = option.kind === 'boolean' ? parseBoolean(value) : option.kind === 'number' ? Number(value) : value;
    }
    const out: string[] = [];
    let nextId = Math.max(0, ...[...this.nodes.keys()].map(Number).filter(Number.isInteger)) + 1;
    for (let i = 0; i < count; i++) {
      const id = String(nextId++);
      // A founder's log starts with its committed membership entries; a joiner's is empty.
      const storage = voters.length > 0 ? MemoryStorage.bootstrap(voters, learners) : new MemoryStorage();
      const config = { ...options, id, storage, rng: new SeededRng(seedFor(id)) } as RaftConfig;
      const node: TestNode = { id, storage, config, core: new ObservedCore(config), appliedItems: [], confHistory: [] };
      restoreState(node, storage.snapshot());
      this.nodes.set(id, node);
      out.push(this.applyBootstrap(node));
    }
    return out;
  }

  /** Applies a founder's bootstrap entries (its first Ready), which carries nothing else. */
  private applyBootstrap(node: TestNode): string {
    if (!node.core.hasReady()) return `INFO ${node.id} created with an empty log and no membership`;
    const rd = node.core.ready();
    if (rd.messages.length > 0 || rd.entries.length > 0) throw new Error(`bootstrap Ready of ${node.id} carries more than its committed entries`);
    for (const entry of rd.committedEntries) applyEntry(node, entry);
    node.core.advance(rd);
    const s = node.core.status();
    return `INFO ${node.id} bootstrapped at term ${s.term} with ${formatConf(s.confState)} (applied ${s.applied})`;
  }

  private tick(node: TestNode, ticks: number): string[] {
    return this.observe(node, (n) => {
      for (let i = 0; i < ticks; i++) n.core.tick();
    });
  }

  private tickElection(node: TestNode): string[] {
    const electionTicks = node.config.electionTimeoutTicks ?? RAFT_DEFAULTS.electionTimeoutTicks;
    if (node.core.status().role === 'leader') {
      return [`ticked ${electionTicks}`, ...this.tick(node, electionTicks)];
    }
    let ticks = 0;
    return this.observe(node, (n) => {
      const before = { requests: n.core.voteRequestsSent, role: n.core.status().role, term: n.core.status().term };
      while (ticks < 2 * electionTicks) {
        n.core.tick();
        ticks++;
        const now = n.core.status();
        if (n.core.voteRequestsSent !== before.requests || now.role !== before.role || now.term !== before.term) return;
      }
    }, () => [ticks < 2 * electionTicks ? `ticked ${ticks}` : `ticked ${ticks}: no election`]);
  }

  private propose(cmd: Command): string[] {
    let result = '';
    const out = this.observe(this.nodeArg(cmd, 0), (n) => {
      const at = n.core.propose(textEncoder.encode(requiredPositional(cmd, 1)));
      result = `proposed index=${at.index} term=${at.term}`;
    });
    return [result, ...out];
  }

  private proposeConfChange(cmd: Command): string[] {
    const kind = requiredPositional(cmd, 1);
    const types: Record<string, ConfChangeType> = {
      'add-voter': ConfChangeType.AddVoter,
      'add-learner': ConfChangeType.AddLearner,
      remove: ConfChangeType.RemoveNode,
    };
    const type = types[kind];
    if (type === undefined) throw new Error(`propose-conf-change: unknown change ${kind}`);
    let result = '';
    const out = this.observe(this.nodeArg(cmd, 0), (n) => {
      const at = n.core.proposeConfChange({ type, nodeId: requiredPositional(cmd, 2), context: new Uint8Array(0) });
      result = `proposed index=${at.index} term=${at.term}`;
    });
    return [result, ...out];
  }

  /** Runs `action` on a node; prints Raft errors and any role/term change. */
  private observe(node: TestNode, action: (n: TestNode) => void, extra?: () => string[]): string[] {
    const before = roleTerm(node);
    const out: string[] = [];
    try {
      action(node);
    } catch (err) {
      if (!(err instanceof RaftError) && !(err instanceof AssertionFailure)) throw err;
      out.push(formatError(err));
    }
    if (extra !== undefined) out.unshift(...extra());
    out.push(...describeChange(node, before));
    return out;
  }

  /** Handles one Ready in the documented order: persist, send, apply, advance. */
  private processReady(node: TestNode): string[] {
    if (!node.core.hasReady()) return [`> ${node.id} has no Ready`];
    const before = roleTerm(node);
    const rd = node.core.ready();
    const out = formatReady(node.id, rd);
    node.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
    for (const message of rd.messages) this.network.push({ message, sender: node.id });
    if (rd.snapshot !== null) restoreState(node, rd.snapshot);
    for (const entry of rd.committedEntries) applyEntry(node, entry);
    try {
      node.core.advance(rd);
    } catch (err) {
      out.push(formatError(err));
    }
    out.push(...describeChange(node, before));
    return out;
  }

  private deliverMsgs(cmd: Command): string[] {
    const targets = new Set(cmd.args.filter((a) => a.key === null).flatMap((a) => a.values.map((v) => this.node(v).id)));
    const dropped = new Set(listArg(cmd, 'drop') ?? []);
    const all = targets.size === 0 && dropped.size === 0;
    return this.deliver((m) => all || targets.has(m.to) || dropped.has(m.to), (m) => dropped.has(m.to));
  }

  /** Delivers (or drops) the queued messages `select` picks, in FIFO order. */
  private deliver(select: (m: Message) => boolean, drop: (m: Message) => boolean): string[] {
    const picked = this.network.filter((f) => select(f.message));
    this.network = this.network.filter((f) => !select(f.message));
    const out: string[] = [];
    // Identical dropped messages share one line, so that a node isolated for
    // many ticks does not flood the output.
    const droppedAt = new Map<string, { at: number; count: number }>();
    const noteDrop = (line: string): void => {
      const seen = droppedAt.get(line);
      if (seen === undefined) {
        droppedAt.set(line, { at: out.length, count: 1 });
        out.push(line);
      } else {
        out[seen.at] = `${line} (x${++seen.count})`;
      }
    };
    for (const { message, sender } of picked) {
      const target = this.nodes.get(message.to);
      if (drop(message)) {
        noteDrop(`dropped: ${formatMessage(message)}`);
      } else if (this.isolated.has(sender) || this.isolated.has(message.to)) {
        noteDrop(`dropped (partition): ${formatMessage(message)}`);
      } else if (target === undefined) {
        noteDrop(`dropped (no such node): ${formatMessage(message)}`);
      } else {
        out.push(`${formatMessage(message)}${sender === message.from ? '' : ` (sent by ${sender})`}`);
        out.push(...this.observe(target, (n) => n.core.step(message)));
      }
    }
    return out;
  }

  private stabilize(only: readonly TestNode[]): string[] {
    const nodes = only.length > 0 ? only : this.sortedNodes();
    const ids = new Set(nodes.map((n) => n.id));
    const out: string[] = [];
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      let busy = false;
      for (const node of nodes) {
        if (!node.core.hasReady()) continue;
        busy = true;
        out.push(...this.processReady(node));
      }
      if (this.network.some((f) => ids.has(f.message.to))) {
        busy = true;
        out.push(...this.deliver((m) => ids.has(m.to), () => false));
      }
      if (!busy) return out;
    }
    throw new Error(`stabilize: still busy after ${stabilizeRoundsMax} rounds`);
  }

  private compact(node: TestNode, index: number): string[] {
    const applied = node.core.status().applied;
    if (index > applied) throw new Error(`compact: index ${index} is past applied ${applied}`);
    // The core knows the membership as of the applied index; for an older
    // index the harness replays its own record of applied conf changes.
    const conf = index === applied ? node.core.appliedConfState() : confAt(node, index);
    const data = JSON.stringify(node.appliedItems.filter((i) => i.index <= index).map((i) => i.data));
    node.storage.createSnapshot(index, conf, textEncoder.encode(data));
    node.storage.compact(index);
    return [`${node.id}: snapshot at ${index}/${node.storage.snapshot().metadata.term}, first index now ${node.storage.firstIndex()}`];
  }

  private restart(node: TestNode): string[] {
    const before = roleTerm(node);
    this.network = this.network.filter((f) => f.sender !== node.id);
    node.core = new ObservedCore(node.config);
    restoreState(node, node.storage.snapshot());
    const out = [`INFO ${node.id} restarted at term ${node.core.status().term} commit=${node.core.status().commit}`];
    return [...out, ...describeChange(node, before)];
  }

  // ------------------------------------------------------------- queries

  private formatState(node: TestNode): string {
    const s = node.core.status();
    const flags = this.isolated.has(node.id) ? ' (isolated)' : '';
    return (
      `${node.id}: ${s.role} term=${s.term} vote=${s.vote || 'none'} leader=${s.leader || 'none'} ` +
      `commit=${s.commit} applied=${s.applied} lastIndex=${s.lastIndex} ${formatConf(s.confState)}${flags}`
    );
  }

  private raftLog(node: TestNode): string[] {
    const s = node.core.status();
    const out: string[] = [];
    if (s.firstIndex > 1) out.push(`snapshot ${formatSnapshot(node.core.log.snapshot())}`);
    if (s.lastIndex < s.firstIndex) return [...out, 'log is empty'];
    return [...out, ...node.core.log.slice(s.firstIndex, s.lastIndex + 1, Number.MAX_SAFE_INTEGER).map(formatEntry)];
  }

  private status(node: TestNode): string[] {
    const s = node.core.status();
    if (s.role !== 'leader') return [`${node.id} is ${s.role}, leader=${s.leader || 'none'}: no progress`];
    const out = s.leadTransferee === '' ? [] : [`transferring to ${s.leadTransferee}`];
    for (const id of [...s.progress.keys()].sort(compareIds)) {
      const pr = s.progress.get(id)!;
      const kind = s.confState.learners.includes(id) ? ' learner' : '';
      out.push(`${id}: ${pr.state} match=${pr.match} next=${pr.next} active=${pr.recentActive}${kind}`);
    }
    return out;
  }

  // ------------------------------------------------------------- helpers

  private sortedNodes(): TestNode[] {
    return [...this.nodes.values()].sort((a, b) => compareIds(a.id, b.id));
  }

  private node(id: string): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private nodeArg(cmd: Command, position: number): TestNode {
    return this.node(requiredPositional(cmd, position));
  }

  private positionalNodes(cmd: Command): TestNode[] {
    return cmd.args.filter((a) => a.key === null).flatMap((a) => a.values.map((v) => this.node(v)));
  }
}

// ------------------------------------------------------ node-level helpers

function roleTerm(node: TestNode): { role: Role; term: number } {
  const s = node.core.status();
  return { role: s.role, term: s.term };
}

function describeChange(node: TestNode, before: { role: Role; term: number }): string[] {
  const now = roleTerm(node);
  if (now.role === before.role && now.term === before.term) return [];
  return [`INFO ${node.id} became ${now.role} at term ${now.term}`];
}

function applyEntry(node: TestNode, entry: Entry): void {
  if (entry.type === EntryType.ConfChange) {
    const previous = node.confHistory[node.confHistory.length - 1]!.conf;
    node.confHistory.push({ index: entry.index, conf: applyToConfState(previous, decodeConfChange(entry.data, entry.index)) });
  } else if (entry.data.byteLength > 0) {
    node.appliedItems.push({ index: entry.index, data: textDecoder.decode(entry.data) });
  }
}

function restoreState(node: TestNode, snapshot: Snapshot): void {
  const { index, confState } = snapshot.metadata;
  const data = snapshot.data.byteLength === 0 ? [] : (JSON.parse(textDecoder.decode(snapshot.data)) as string[]);
  node.appliedItems = data.map((d) => ({ index, data: d }));
  node.confHistory = [{ index, conf: confState }];
}

function confAt(node: TestNode, index: number): ConfState {
  let conf = node.confHistory[0]!.conf;
  for (const h of node.confHistory) if (h.index <= index) conf = h.conf;
  return conf;
}

// -------------------------------------------------------- argument helpers

function positional(cmd: Command, position: number): string | undefined {
  return cmd.args.filter((a) => a.key === null)[position]?.values[0];
}

function requiredPositional(cmd: Command, position: number): string {
  const value = positional(cmd, position);
  if (value === undefined) throw new Error(`${cmd.name}: missing argument ${position + 1}`);
  return value;
}

function required(cmd: Command, key: string): string {
  const value = cmd.args.find((a) => a.key === key)?.values[0];
  if (value === undefined) throw new Error(`${cmd.name}: missing ${key}=`);
  return value;
}

function listArg(cmd: Command, key: string): string[] | undefined {
  const arg = cmd.args.find((a) => a.key === key);
  return arg === undefined ? undefined : [...arg.values];
}

function parseBoolean(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`expected true or false, got ${value}`);
}

/** The commit a vote message carries for learnCommit, when it carries one. */
function commitOf(m: Message): string {
  return m.commit === 0 ? '' : ` commit=${m.commit}/${m.commitTerm}`;
}
