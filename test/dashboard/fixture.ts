import { startHttpServer, type HttpServer } from '../../src/coordinator/http-server.js';
import { encodeCommand, type CommandOp } from '../../src/coordinator/codec.js';
import { KvMachine } from '../../src/coordinator/kv-machine.js';
import { createLogger } from '../../src/coordinator/logger.js';
import { NodeMetrics } from '../../src/coordinator/metrics.js';
import { encodeOrchCommand, type OrchCommand } from '../../src/coordinator/orchestrator/commands.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import type { HubLimits } from '../../src/dashboard/hub.js';
import { createDashboard, type Dashboard, type DashboardAuthVerdict } from '../../src/dashboard/server.js';
import type { DashboardSources, MemberRow } from '../../src/dashboard/sources.js';
import { faultRecordPrefix } from '../../src/model/index.js';

/**
 * One coordinator's dashboard in this process: a real HTTP server and a real
 * state machine (the key-value machine with the orchestrator), commands
 * applied as a coordinator applies its committed entries. Shared by the
 * protocol tests and the browser tests that need no cluster; the ones that
 * do run against real processes (browser.test.ts).
 */
export interface DashboardFixture {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  readonly orchestrator: Orchestrator;
  readonly machine: KvMachine;
  readonly dashboard: Dashboard;
  /** Applies an orchestrator command as the next log entry. */
  apply(command: OrchCommand): void;
  /** Applies a key-value put as the next log entry. */
  put(key: string, value: string): void;
}

export interface DashboardFixtureOptions {
  readonly limits?: Partial<HubLimits>;
  /** The token check: the presented token ('' for none) in, the verdict out. */
  readonly authorize?: (token: string) => DashboardAuthVerdict;
}

const logger = createLogger({ nodeId: 'n1', component: 'dashboard', level: 'silent', env: {} });
/** The leader's clock at index 0 of every fixture's log. */
const clockStartMs = 1_000_000;
const stops: (() => Promise<void>)[] = [];

/** Starts one; stopped by stopDashboards(). */
export async function serveDashboard(options: DashboardFixtureOptions = {}): Promise<DashboardFixture> {
  const orchestrator = new Orchestrator();
  const machine = new KvMachine({ extension: orchestrator });
  const applyOp = (op: CommandOp): void => {
    const index = machine.appliedIndex + 1;
    const result = machine.applyCommand(index, encodeCommand({ idempotencyKey: '', proposedAtMs: clockStartMs + index, op }));
    if (!result.ok) throw new Error(`entry ${index} refused: ${result.message}`);
  };
  const dashboard = createDashboard({
    sources: fixtureSources(orchestrator, machine),
    log: logger,
    limits: options.limits ?? {},
    ...(options.authorize === undefined ? {} : { authorize: (req) => options.authorize!(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) }),
  });
  const server: HttpServer = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics: new NodeMetrics({ nodeId: 'n1', defaultMetrics: false }),
    livez: () => ({ ok: true }),
    readyz: () => ({ ok: true, reason: '' }),
    logger,
    dashboard,
  });
  stops.push(async () => {
    dashboard.stop();
    await server.close();
  });
  return {
    base: `http://127.0.0.1:${server.address.port}`,
    orchestrator,
    machine,
    dashboard,
    apply: (command) => {
      const { payload, deflated } = encodeOrchCommand(command);
      applyOp({ type: 'orch', payload, deflated });
    },
    put: (key, value) => applyOp({ type: 'put', key, value: Buffer.from(value) }),
  };
}

export async function stopDashboards(): Promise<void> {
  for (const stop of stops.splice(0)) await stop();
}

/** A single-member cluster led by n1, whose state is `machine`. */
function fixtureSources(orchestrator: Orchestrator, machine: KvMachine): DashboardSources {
  const index = (): number => machine.appliedIndex;
  const member = (): MemberRow => ({
    id: 'n1', address: '127.0.0.1:7001', role: 'leader', kind: 'voter', term: 3, commitIndex: index(), appliedIndex: index(), lastIndex: index(),
    leaderId: 'n1', lag: 0, reachable: true, ready: true, reason: '', error: '', version: 'test',
  });
  return {
    nodeId: 'n1',
    raftStatus: () => ({ role: 'leader', term: 3, leader: 'n1', commit: index(), appliedToMachine: index(), leaderCommitHeard: index() }),
    clusterStatus: async () => [member()],
    listWorkers: () => orchestrator.listWorkers(),
    listRuns: () => orchestrator.listRuns(),
    getRunSummary: (id) => orchestrator.runSummary(id),
    getRun: (id) => orchestrator.getRun(id),
    liveTasks: (limit) => orchestrator.liveTasks(limit),
    stateCounts: () => orchestrator.stateCounts(),
    leaderSessions: async () => ({ from: 'self', byWorker: new Map() }),
    listFaultRecords: (startAfter, limit) => machine.list({ prefix: faultRecordPrefix, startAfter, limit }),
    onChange: (listener) => orchestrator.onChange((runIds, command, events) => listener({ runIds, command, events })),
    nowMs: () => Date.now(),
  };
}
