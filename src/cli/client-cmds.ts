import type { Command } from 'commander';
import { TestudoClient } from '../client/index.js';
import { connectionOf, realClient, withCluster, withConnectOptions, withReachedCluster, type ConnectOptions } from './connect.js';
import { ExitError } from './errors.js';
import { endpointFlag, positiveIntFlag } from './flags.js';
import type { CliIo } from './io.js';

/** How long `cluster add-member` waits for the new member to catch up before it answers. */
export const addMemberTimeoutMs = 120_000;
/** How long the other membership changes (transfer, remove, repair) may take. */
export const membershipChangeTimeoutMs = 30_000;

/** Runs `fn` on a client of the cluster the flags name; `operationMs` when one call may take longer than --wait. */
function withClient<T>(options: ConnectOptions, io: CliIo, fn: (client: TestudoClient) => Promise<T>, operationMs = 0): Promise<T> {
  return withCluster(connectionOf(options, io.err), realClient, fn, operationMs);
}

/** A membership change, after the cluster was reached within --wait (see withReachedCluster). */
function withMembershipClient<T>(options: ConnectOptions, io: CliIo, fn: (client: TestudoClient) => Promise<T>, operationMs: number): Promise<T> {
  return withReachedCluster(connectionOf(options, io.err), fn, operationMs);
}

const decoder = new TextDecoder();

export function registerKvCommands(program: Command, io: CliIo): void {
  const kv = program.command('kv').description("read and write the cluster's replicated key-value namespace");
  withConnectOptions(kv.command('put').description('write a value (applied once, even if retried)').argument('<key>').argument('<value>'))
    .option('--idempotency-key <key>', 'reuse to make a repeated command apply once')
    .action(async (key: string, value: string, options: ConnectOptions & { idempotencyKey?: string }) => {
      const result = await withClient(options, io, (c) => c.put(key, value, { idempotencyKey: options.idempotencyKey }));
      io.out(`${JSON.stringify(result)}\n`);
    });
  withConnectOptions(kv.command('get').description('read a value (linearizable unless --stale)').argument('<key>'))
    .option('--stale', "read the serving node's local state, which may lag")
    .action(async (key: string, options: ConnectOptions & { stale?: boolean }) => {
      const result = await withClient(options, io, (c) => c.get(key, { stale: options.stale === true }));
      if (!result.found) {
        io.out(`${JSON.stringify({ found: false, servedBy: result.servedBy })}\n`);
        throw new ExitError(1);
      }
      io.out(`${JSON.stringify({ found: true, key, value: decoder.decode(result.value), modIndex: result.modIndex, servedBy: result.servedBy })}\n`);
    });
  withConnectOptions(kv.command('delete').description('delete a key').argument('<key>')).action(async (key: string, options: ConnectOptions) => {
    const result = await withClient(options, io, (c) => c.delete(key));
    io.out(`${JSON.stringify(result)}\n`);
  });
  withConnectOptions(kv.command('list').description('list keys in order (one JSON object per line)'))
    .option('--prefix <prefix>', 'only keys starting with this', '')
    .option('--limit <n>', 'at most this many keys', '1000')
    .option('--stale', "read the serving node's local state, which may lag")
    .action(async (options: ConnectOptions & { prefix: string; limit: string; stale?: boolean }) => {
      const limit = positiveIntFlag('--limit', options.limit);
      await withClient(options, io, async (c) => {
        let printed = 0;
        for await (const item of c.listAll({ prefix: options.prefix, pageSize: Math.min(limit, 1000), stale: options.stale === true })) {
          if (printed >= limit) break;
          io.out(`${JSON.stringify({ key: item.key, value: decoder.decode(item.value), modIndex: item.modIndex })}\n`);
          printed++;
        }
      });
    });
}

export function registerClusterCommands(program: Command, io: CliIo): void {
  const cluster = program.command('cluster').description('inspect and change the coordinator cluster');
  withConnectOptions(cluster.command('status').description('every member: id, address, role, term, commit and applied index, leader, lag'))
    .option('--json', 'print JSON instead of a table')
    .action(async (options: ConnectOptions & { json?: boolean }) => {
      const status = await withClient(options, io, (c) => c.clusterStatus());
      io.out(options.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatStatusTable(status));
    });
  withConnectOptions(cluster.command('transfer-leader').description('hand leadership to another voter').requiredOption('--to <id>', 'the new leader')).action(
    async (options: ConnectOptions & { to: string }) => {
      const result = await withMembershipClient(options, io, (c) => c.transferLeader(options.to), membershipChangeTimeoutMs);
      io.out(`${JSON.stringify(result)}\n`);
    },
  );
  withConnectOptions(
    cluster
      .command('add-member')
      .description('add a coordinator: it joins as a learner and is promoted to voter once caught up')
      .requiredOption('--id <id>', 'the new member')
      .requiredOption('--address <host:port>', 'its gRPC address (start it with --join first)'),
  )
    .option('--learner-only', 'keep it a non-voting learner')
    .action(async (options: ConnectOptions & { id: string; address: string; learnerOnly?: boolean }) => {
      endpointFlag('--address', options.address);
      const result = await withMembershipClient(options, io, (c) => c.addMember({ id: options.id, address: options.address, learnerOnly: options.learnerOnly === true }), addMemberTimeoutMs);
      io.out(`${JSON.stringify(result)}\n`);
    });
  withConnectOptions(cluster.command('remove-member').description('remove a coordinator from the cluster').requiredOption('--id <id>', 'the member to remove')).action(
    async (options: ConnectOptions & { id: string }) => {
      const result = await withMembershipClient(options, io, (c) => c.removeMember(options.id), membershipChangeTimeoutMs);
      io.out(`${JSON.stringify(result)}\n`);
    },
  );
  withConnectOptions(
    cluster
      .command('repair-member')
      .description("have the leader reset a follower whose log went back (restored from an older copy) and catch it up; read docs/operations.md first")
      .requiredOption('--id <id>', 'the follower to repair'),
  ).action(async (options: ConnectOptions & { id: string }) => {
    const result = await withMembershipClient(options, io, (c) => c.repairMember(options.id), membershipChangeTimeoutMs);
    io.out(`${JSON.stringify(result)}\n`);
  });
}

interface StatusLike {
  leaderId: string;
  term: number;
  members: readonly {
    id: string;
    address: string;
    role: string;
    kind: string;
    term: number;
    commitIndex: number;
    appliedIndex: number;
    leaderId: string;
    lag: number;
    reachable: boolean;
    error: string;
    /** Why it has not caught up; absent from older servers. */
    lagReason?: string;
  }[];
}

/** The status table `testudo cluster status` and `testudo up` print. */
export function formatStatusTable(status: StatusLike): string {
  const header = ['ID', 'ADDRESS', 'ROLE', 'KIND', 'TERM', 'COMMIT', 'APPLIED', 'LEADER', 'LAG', 'NOTE'];
  const rows = status.members.map((m) =>
    m.reachable
      ? [m.id, m.address, m.role, m.kind, String(m.term), String(m.commitIndex), String(m.appliedIndex), m.leaderId || '-', String(m.lag), m.lagReason || '-']
      : [m.id, m.address, 'unreachable', m.kind, '-', '-', '-', '-', '-', m.error || '-'],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
