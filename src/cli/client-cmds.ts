import type { Command } from 'commander';
import { TestudoClient } from '../client/index.js';
import { tokenOptions, withTokenFile } from './auth-flags.js';
import { ExitError } from './errors.js';
import { endpointFlag, endpointListFlag, positiveIntFlag } from './flags.js';
import { clientTlsOf, withTlsOptions, type TlsFlagValues } from './tls-flags.js';

/** Where the client commands look for the cluster unless told otherwise (`testudo up`'s defaults). */
export const defaultEndpoints = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

interface EndpointOptions extends TlsFlagValues {
  endpoints?: string;
  timeoutMs?: string;
  tokenFile?: string;
}

function endpointsOf(options: EndpointOptions): string[] {
  if (options.endpoints !== undefined) return endpointListFlag('--endpoints', options.endpoints);
  const fromEnv = process.env.TESTUDO_ENDPOINTS;
  return fromEnv === undefined ? endpointListFlag('the default endpoints', defaultEndpoints) : endpointListFlag('TESTUDO_ENDPOINTS', fromEnv);
}

function timeoutOf(options: EndpointOptions, fallbackMs: number): number {
  return options.timeoutMs === undefined ? fallbackMs : positiveIntFlag('--timeout-ms', options.timeoutMs);
}

async function withClient<T>(options: EndpointOptions, fallbackMs: number, fn: (client: TestudoClient) => Promise<T>): Promise<T> {
  const timeoutMs = timeoutOf(options, fallbackMs);
  const client = new TestudoClient({ endpoints: endpointsOf(options), totalTimeoutMs: timeoutMs, callTimeoutMs: Math.min(timeoutMs, 10_000), ...clientTlsOf(options), ...tokenOptions(options.tokenFile) });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

function withEndpoints(cmd: Command): Command {
  return withTlsOptions(withTokenFile(cmd), 'this client')
    .option('--endpoints <list>', `coordinators to talk to, host:port,… (env TESTUDO_ENDPOINTS; default ${defaultEndpoints})`)
    .option('--timeout-ms <ms>', 'give up after this long, retries included');
}

const decoder = new TextDecoder();

export function registerKvCommands(program: Command, write: (text: string) => void): void {
  const kv = program.command('kv').description("read and write the cluster's replicated key-value namespace");
  withEndpoints(kv.command('put').description('write a value (applied once, even if retried)').argument('<key>').argument('<value>'))
    .option('--idempotency-key <key>', 'reuse to make a repeated command apply once')
    .action(async (key: string, value: string, options: EndpointOptions & { idempotencyKey?: string }) => {
      const result = await withClient(options, 30_000, (c) => c.put(key, value, { idempotencyKey: options.idempotencyKey }));
      write(`${JSON.stringify(result)}\n`);
    });
  withEndpoints(kv.command('get').description('read a value (linearizable unless --stale)').argument('<key>'))
    .option('--stale', "read the serving node's local state, which may lag")
    .action(async (key: string, options: EndpointOptions & { stale?: boolean }) => {
      const result = await withClient(options, 30_000, (c) => c.get(key, { stale: options.stale === true }));
      if (!result.found) {
        write(`${JSON.stringify({ found: false, servedBy: result.servedBy })}\n`);
        throw new ExitError(1);
      }
      write(`${JSON.stringify({ found: true, key, value: decoder.decode(result.value), modIndex: result.modIndex, servedBy: result.servedBy })}\n`);
    });
  withEndpoints(kv.command('delete').description('delete a key').argument('<key>')).action(async (key: string, options: EndpointOptions) => {
    const result = await withClient(options, 30_000, (c) => c.delete(key));
    write(`${JSON.stringify(result)}\n`);
  });
  withEndpoints(kv.command('list').description('list keys in order (one JSON object per line)'))
    .option('--prefix <prefix>', 'only keys starting with this', '')
    .option('--limit <n>', 'at most this many keys', '1000')
    .option('--stale', "read the serving node's local state, which may lag")
    .action(async (options: EndpointOptions & { prefix: string; limit: string; stale?: boolean }) => {
      const limit = positiveIntFlag('--limit', options.limit);
      await withClient(options, 30_000, async (c) => {
        let printed = 0;
        for await (const item of c.listAll({ prefix: options.prefix, pageSize: Math.min(limit, 1000), stale: options.stale === true })) {
          if (printed >= limit) break;
          write(`${JSON.stringify({ key: item.key, value: decoder.decode(item.value), modIndex: item.modIndex })}\n`);
          printed++;
        }
      });
    });
}

export function registerClusterCommands(program: Command, write: (text: string) => void): void {
  const cluster = program.command('cluster').description('inspect and change the coordinator cluster');
  withEndpoints(cluster.command('status').description('every member: id, address, role, term, commit and applied index, leader, lag'))
    .option('--json', 'print JSON instead of a table')
    .action(async (options: EndpointOptions & { json?: boolean }) => {
      const status = await withClient(options, 10_000, (c) => c.clusterStatus());
      write(options.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatStatusTable(status));
    });
  withEndpoints(cluster.command('transfer-leader').description('hand leadership to another voter').requiredOption('--to <id>', 'the new leader')).action(
    async (options: EndpointOptions & { to: string }) => {
      const result = await withClient(options, 15_000, (c) => c.transferLeader(options.to, { callTimeoutMs: timeoutOf(options, 15_000) }));
      write(`${JSON.stringify(result)}\n`);
    },
  );
  withEndpoints(
    cluster
      .command('add-member')
      .description('add a coordinator: it joins as a learner and is promoted to voter once caught up')
      .requiredOption('--id <id>', 'the new member')
      .requiredOption('--address <host:port>', 'its gRPC address (start it with --join first)'),
  )
    .option('--learner-only', 'keep it a non-voting learner')
    .action(async (options: EndpointOptions & { id: string; address: string; learnerOnly?: boolean }) => {
      endpointFlag('--address', options.address);
      const result = await withClient(options, 120_000, (c) => c.addMember({ id: options.id, address: options.address, learnerOnly: options.learnerOnly === true }, { callTimeoutMs: timeoutOf(options, 120_000) }));
      write(`${JSON.stringify(result)}\n`);
    });
  withEndpoints(cluster.command('remove-member').description('remove a coordinator from the cluster').requiredOption('--id <id>', 'the member to remove')).action(
    async (options: EndpointOptions & { id: string }) => {
      const result = await withClient(options, 30_000, (c) => c.removeMember(options.id, { callTimeoutMs: timeoutOf(options, 30_000) }));
      write(`${JSON.stringify(result)}\n`);
    },
  );
  withEndpoints(
    cluster
      .command('repair-member')
      .description("have the leader reset a follower whose log went back (restored from an older copy) and catch it up; read docs/operations.md first")
      .requiredOption('--id <id>', 'the follower to repair'),
  ).action(async (options: EndpointOptions & { id: string }) => {
    const result = await withClient(options, 30_000, (c) => c.repairMember(options.id, { callTimeoutMs: timeoutOf(options, 30_000) }));
    write(`${JSON.stringify(result)}\n`);
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
