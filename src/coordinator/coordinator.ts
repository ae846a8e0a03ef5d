import { mkdir, readdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { GrpcTransport, peerServerOptions } from '../raft/transport/grpc-transport.js';
import { LeaderWait } from './leader-wait.js';
import { durableFileName, formatVersion, LevelDbStorage, RaftNode, NO_NODE, type Message, type NodeId, type TransportHandler } from '../raft/index.js';
import { clusterHandlers, type AdminHost } from './admin.js';
import { encodeMemberContext } from './codec.js';
import type { CoordinatorConfig } from './config.js';
import { startHttpServer, type ReadinessCheck } from './http-server.js';
import { KvMachine, type ApplyResult } from './kv-machine.js';
import { CoordinatorChaosHooks } from './chaos-hooks.js';
import { childLogger, type Logger } from './logger.js';
import { NodeMetrics } from './metrics.js';
import { PeerClients } from './peer-clients.js';
import { AddressRoutes } from '../client/routes.js';
import { testudoPackageDefinition, testudoServices } from '../common/testudo-proto.js';
import { kvHandlers } from './services.js';
import { Orchestrator } from './orchestrator/state.js';
import { emulatedFeatureLevel, plantedBugs } from './planted-bugs.js';
import { clusterFeatureLevel, featureLevel } from './feature-level.js';
import { OrchestratorMetrics } from './orchestrator-metrics.js';
import { AlertSender } from './alerts.js';
import { ReportArchive, runsHandlers, type RunsHost } from './runs-service.js';
import { nodeProposer } from './propose.js';
import { Leader, sessionSettingsDefault } from './leader/index.js';
import { testudoVersion } from '../common/version.js';
import { ReloadableTls, reloadTlsLogged, type TlsReloadResult } from '../security/tls.js';
import { AuthMetrics } from '../security/auth-metrics.js';
import { loadCoordinatorAuth, type CoordinatorAuth } from '../security/auth-coordinator.js';
import { reloadAuthLogged, type AuthReloadResult } from '../security/auth-reload.js';
import { bearer } from '../security/auth-token.js';
import { RemovedMembers } from '../security/auth-peers.js';
import { authInterceptor, authorizeHttp, principalOf } from '../security/auth.js';
import type { PeerAuth } from '../raft/index.js';
import { createDashboard, type Dashboard } from '../dashboard/server.js';
import { coordinatorSources } from '../dashboard/coordinator-sources.js';

/**
 * Election timeouts a leader goes without hearing from a quorum before it
 * steps down (RaftConfig.checkQuorumTimeouts): 480-960 ms with the default
 * 160-320 ms timeout. With 1 a leader stepped down whenever its followers
 * spent more than one timeout applying a large entry (a 20,000-task
 * submission takes them 0.3-0.4 s), and the cluster then went half a second
 * without a leader; when a follower campaigns, and every lease, is unchanged
 * (docs/raft.md, "Timing and failover").
 */
export const checkQuorumTimeouts = 3;

/** A coordinator that is up: its endpoints and how to stop it. */
export interface RunningCoordinator {
  readonly id: NodeId;
  readonly grpcAddress: string;
  readonly httpAddress: string | null;
  readonly node: RaftNode<ApplyResult>;
  /** Stops serving; a leader first hands leadership to a caught-up follower. */
  stop(options?: { transferLeadership?: boolean }): Promise<void>;
  /** Resolves when the node stopped on its own (a fatal storage error). */
  readonly fatal: Promise<unknown>;
  /** Reads the TLS files again (SIGHUP): new connections use them, open ones keep theirs; a bad file is refused and logged. Null without TLS. */
  reloadTls(): TlsReloadResult | null;
  /** Reads the auth file again (SIGHUP): removed credentials are refused at once and their open calls ended; a bad file keeps the table in use. Null without one. */
  reloadAuth(): AuthReloadResult | null;
}

/** The cluster identity a data directory was founded with; checked on every start. */
interface ClusterFile {
  clusterId: string;
  nodeId: string;
}

/**
 * Starts one coordinator: opens (or founds) its data directory, starts the
 * Raft node, serves gRPC (peers, Kv, Cluster, health, reflection) on one
 * address and HTTP (/metrics, /livez, /readyz, /status) on another.
 */
export async function startCoordinator(config: CoordinatorConfig, rootLogger: Logger): Promise<RunningCoordinator> {
  const log = childLogger(rootLogger, 'coordinator');
  // Bad TLS or auth files refuse the start before anything is written or bound.
  const tls = config.tls === null ? null : ReloadableTls.load(config.tls.files);
  for (const warning of tls?.material.warnings ?? []) log.warn({ event: 'tls-warning' }, warning);
  const channelCredentials = tls?.channelCredentials() ?? grpc.credentials.createInsecure();
  const security = loadCoordinatorAuth({ nodeId: config.id, authFile: config.authFile, tokenFile: config.tokenFile });
  for (const warning of security.warnings) log.warn(warning);
  await mkdir(config.dataDir, { recursive: true });
  const clusterId = await checkClusterFile(config, rootLogger, channelCredentials, security.peerToken);
  const founding = config.join.length === 0;
  const contexts = new Map([...config.peers].map(([id, address]) => [id, encodeMemberContext({ address })]));
  const chaos = config.chaosHooks ? new CoordinatorChaosHooks(childLogger(rootLogger, 'chaos-hooks')) : null;
  if (chaos !== null && config.http === null) log.warn('--chaos-hooks without --http: nothing can set the fault settings');
  const planted = plantedBugs(process.env['TESTUDO_CHAOS_PLANTED_BUG'], { chaosHooks: config.chaosHooks, nodeId: config.id });
  const ownFeatureLevel = emulatedFeatureLevel(process.env['TESTUDO_CHAOS_FEATURE_LEVEL'], { chaosHooks: config.chaosHooks, own: featureLevel });
  if (ownFeatureLevel !== featureLevel) log.warn({ featureLevel: ownFeatureLevel, buildFeatureLevel: featureLevel }, `sending and writing at feature level ${ownFeatureLevel}, standing in for an older build`);
  const storage = await LevelDbStorage.open(join(config.dataDir, 'raft'), {
    nodeId: config.id,
    bootstrapConfState: founding ? { voters: [...config.peers.keys()].sort(), learners: [] } : undefined,
    bootstrapContexts: founding ? contexts : undefined,
    ...(chaos === null ? {} : { beforeSyncedWrite: chaos.beforeSyncedWrite }),
    ...(planted.storage === undefined ? {} : { plantedBug: planted.storage }),
  });
  if (storage.durableCheck.migratedFrom !== null) {
    log.warn({ from: storage.durableCheck.migratedFrom, to: formatVersion }, 'migrated the Raft data directory: wrote its durable record from its current state');
  }
  const metrics = new NodeMetrics({ nodeId: config.id });
  const stopLoopLagMonitor = metrics.startLoopLagMonitor();
  const authMetrics = new AuthMetrics(metrics.registry);
  const audit = rootLogger.child({ component: 'audit', audit: true });
  const orchestrator = new Orchestrator(planted.orchestrator === undefined ? {} : { plantedBug: planted.orchestrator });
  if (planted.active !== null) rootLogger.warn({ event: 'planted-bug', bug: planted.active }, `a planted bug is on: ${planted.active} (chaos checker self-test)`);
  const machine = new KvMachine({ extension: orchestrator });
  const archive = new ReportArchive(config.dataDir, orchestrator, childLogger(rootLogger, 'archive'));
  let leader: Leader | null = null;
  let fatalResolve: (error: unknown) => void = () => undefined;
  const fatal = new Promise<unknown>((resolve) => (fatalResolve = resolve));
  let transport: GrpcTransport | null = null;
  const removedMembers = new RemovedMembers();
  const syncPeers = (): void => {
    removedMembers.observe(machine.members().map((m) => m.id));
    if (transport === null) return;
    const known = new Map(config.peers);
    for (const m of machine.members()) if (m.address !== '') known.set(m.id, m.address);
    const members = new Set(machine.members().map((m) => m.id));
    for (const [id, address] of known) {
      if (id === config.id) continue;
      if (members.size > 0 && !members.has(id)) transport.removePeer(id);
      else transport.setPeer(id, config.route.dial(address));
    }
  };
  let lastLeader: NodeId = NO_NODE;
  let lastRole = '';
  // Client calls that find no leader known wait for one, at most an election timeout (services.ts onLeader).
  const leaderWait = new LeaderWait({ holdMs: config.tickMs * config.electionTicks });
  let dashboard: Dashboard | null = null;
  const node = new RaftNode<ApplyResult>({
    id: config.id,
    storage,
    stateMachine: machine,
    tickMs: config.tickMs,
    raft: {
      electionTimeoutTicks: config.electionTicks,
      heartbeatIntervalTicks: config.heartbeatTicks,
      checkQuorumTimeouts,
      readMode: config.readMode,
      messageBytesMax: Math.floor(config.messageBytesMax / 4),
    },
    snapshotEntries: config.snapshotEntries,
    snapshotCatchUpEntries: config.snapshotCatchUpEntries,
    snapshotBytes: config.snapshotBytes,
    observer: {
      onPersist: (seconds, entries, synced) => {
        if (synced) {
          metrics.observeFsync(seconds, entries);
          dashboard?.hub.observeFsync(seconds);
        }
      },
      onState: (s) => {
        if (s.leader !== lastLeader || s.role !== lastRole) {
          // One line per change: the chaos checks and integration tests read these to prove one leader per term.
          log.info({ event: 'raft-state', term: s.term, leader: planted.leaderReport.name(s.term, s.leader), role: s.role }, s.role === 'leader' ? 'became leader' : 'leader changed');
          lastLeader = s.leader;
          lastRole = s.role;
          leader?.setLeader(s.role === 'leader');
          leaderWait.leaderChanged(s.leader === NO_NODE ? '' : s.leader);
          dashboard?.hub.raftStateChanged(s.term, s.leader);
        }
        try {
          metrics.setRaftState({ term: s.term, commitIndex: s.commit, appliedIndex: Math.min(s.applied, s.commit), leaderId: s.leader });
        } catch (error) {
          log.warn({ err: error }, 'metrics update failed');
        }
      },
      onProposalsApplied: (n) => {
        metrics.proposalCommitted(n);
        metrics.proposalApplied(n);
      },
      onProposalCommitted: (seconds) => {
        metrics.observeCommitLatency(seconds);
        dashboard?.hub.observeCommitLatency(seconds);
      },
      onProposalFailed: () => metrics.proposalFailed(),
      onPendingProposals: (n) => metrics.setPending(n),
      onSnapshotRestored: (seconds, index) => {
        metrics.snapshotApplied(seconds);
        log.info({ index, seconds }, 'installed a snapshot from the leader');
      },
      onSnapshotSaved: (seconds, index) => {
        metrics.snapshotSaved(seconds);
        log.debug({ index, seconds }, 'took a snapshot and compacted the log');
      },
      onMembership: () => syncPeers(),
      onFollowerRegressed: (follower, regression) => {
        if (regression === null) {
          log.info({ event: 'follower-regression-cleared', follower }, `${follower} no longer looks regressed (its progress was reset, it answered at its old match, or this node stopped leading)`);
          return;
        }
        log.error(
          { event: 'follower-regressed', follower, match: regression.match, followerLastIndex: regression.followerLastIndex },
          `${follower}'s log went back: it had acknowledged index ${regression.match}, now its log ends at ${regression.followerLastIndex}; it will not catch up on its own. ${repairAdvice(follower)}`,
        );
      },
      onFatal: (error) => {
        log.fatal({ err: error }, 'raft node stopped: storage failed');
        fatalResolve(error);
      },
    },
  });
  const handler: TransportHandler = {
    onMessage: (m: Message) => {
      if (m.type === 'Snap') metrics.snapshotReceived();
      node.onMessage(m);
    },
    onUnreachable: (peer) => {
      metrics.peerSendFailed(peer);
      node.onUnreachable(peer);
    },
    onPeerLost: (peer) => node.onPeerLost(peer),
    onSnapshotStatus: (peer, ok) => {
      if (ok) metrics.snapshotSent();
      node.onSnapshotStatus(peer, ok);
    },
    onPeerAddress: (peer, address) => {
      if (transport !== null && !config.peers.has(peer) && !machine.members().some((m) => m.id === peer)) transport.setPeer(peer, config.route.dial(address));
    },
  };
  transport = new GrpcTransport({
    nodeId: config.id,
    // The id checkClusterFile settled on: a joiner started without --cluster-id learns it from its join address.
    clusterId,
    advertiseAddress: config.advertise,
    handler,
    logger: childLogger(rootLogger, 'transport'),
    messageBytesMax: config.messageBytesMax,
    credentials: channelCredentials,
    onPeerRoundTrip: (peer, seconds) => {
      metrics.observeRoundTrip(peer, seconds);
      dashboard?.hub.observeRoundTrip(peer, seconds);
    },
    peerAuth: peerAuthOf(security, removedMembers, authMetrics),
    featureLevel: ownFeatureLevel,
  });
  node.attachTransport(transport);
  const writeLevel = (): number => clusterFeatureLevel(config.id, ownFeatureLevel, node.status().confState, (peer) => transport?.peerFeatureLevel(peer) ?? null);
  metrics.watchFeatureLevels(ownFeatureLevel, writeLevel);
  syncPeers();

  const peers = new PeerClients(config.messageBytesMax, config.route, channelCredentials, security.peerToken);
  const leaderHint = (): { leaderId: string; leaderAddress: string } => {
    const leaderId = node.leaderId;
    if (leaderId === NO_NODE) return { leaderId: '', leaderAddress: '' };
    if (leaderId === config.id) return { leaderId, leaderAddress: config.advertise };
    const address = machine.members().find((m) => m.id === leaderId)?.address ?? config.peers.get(leaderId) ?? '';
    return { leaderId, leaderAddress: address };
  };
  const host: AdminHost = {
    nodeId: config.id,
    node,
    machine,
    peers,
    leaderHint,
    nowMs: () => Date.now(),
    onRequest: (method, code) => metrics.grpcRequest(method, grpc.status[code] ?? String(code)),
    leaderWait,
    advertise: config.advertise,
    version: testudoVersion,
    clusterId,
    readiness: () => readinessOf(node.status(), config.id, config.readyLagEntriesMax),
    clusterFeatureLevel: writeLevel,
  };

  const proposer = nodeProposer(node, () => Date.now(), writeLevel);
  leader = new Leader({
    nodeId: config.id,
    clusterId,
    proposer,
    orchestrator,
    log: childLogger(rootLogger, 'sessions'),
    settings: { heartbeatIntervalMs: sessionSettingsDefault.heartbeatIntervalMs, workerTtlMs: config.workerTtlMs, graceMs: config.workerGraceMs, runRetentionMs: config.runRetentionMs, unschedulableTimeoutMs: config.unschedulableTimeoutMs, resetTimeoutMs: config.workerResetTimeoutMs },
    leaderHint,
    nowMs: () => Date.now(),
    onResults: (statuses) => {
      const by = new Map<string, number>();
      for (const st of statuses) by.set(st.status, (by.get(st.status) ?? 0) + 1);
      for (const [status, n] of by) orchestratorMetrics.resultsCommitted(status, n);
    },
    onAlert: (event) => {
      orchestratorMetrics.alertRaised(event.alert);
      alerts.send(`[testudo ${event.alert}] ${event.text}`);
    },
    onDispatched: (queuedMs) => {
      for (const ms of queuedMs) orchestratorMetrics.dispatched(ms / 1000);
    },
    onResultRefused: (reason) => authMetrics.resultRefused(reason),
    onSessionRefused: (reason) => authMetrics.sessionRefused(reason),
  });
  const orchestratorMetrics = new OrchestratorMetrics(metrics.registry, { orchestrator, isLeader: () => node.isLeader, sessionsConnected: () => leader?.sessionCount ?? 0 });
  const alerts = new AlertSender(config.alertWebhookUrl, childLogger(rootLogger, 'alerts'), (ok) => orchestratorMetrics.webhookCalled(ok));
  const runsHost: RunsHost = { ...host, orchestrator, leader, archive, proposer };
  if (config.http !== null) {
    dashboard = createDashboard({
      sources: coordinatorSources(host, orchestrator, leader),
      log: childLogger(rootLogger, 'dashboard'),
      // The page's data needs the read-only role when tokens are on; the page itself loads to show its sign-in form.
      authorize: (request) => {
        const refusal = authorizeHttp(security.auth, request, new URL(request.url ?? '/', 'http://localhost').pathname, audit, (route, reason) => authMetrics.callRefused(route, reason));
        return refusal === null ? { ok: true } : { ok: false, status: refusal.status === 401 ? 401 : 403, message: refusal.body.trim() };
      },
    });
  }

  const server = new grpc.Server({
    ...peerServerOptions(config.messageBytesMax),
    // Every call of every service passes here first (docs/security.md).
    interceptors: [authInterceptor({ auth: security.auth, audit, onRefused: (method, reason) => authMetrics.callRefused(method, reason) })],
  });
  transport.registerService(server);
  server.addService(testudoServices().Kv.service, kvHandlers(host));
  server.addService(testudoServices().Cluster.service, clusterHandlers(host));
  server.addService(testudoServices().Runs.service, runsHandlers(runsHost));
  server.addService(testudoServices().Worker.service, { Session: leader.handler() });
  const health = new HealthImplementation({ '': 'SERVING', 'testudo.v1.Kv': 'NOT_SERVING', 'testudo.v1.Cluster': 'SERVING', 'testudo.v1.Runs': 'NOT_SERVING', 'testudo.v1.Worker': 'NOT_SERVING' });
  health.addToServer(server);
  new ReflectionService(testudoPackageDefinition()).addToServer(server);
  const listen = `${config.listen.host}:${config.listen.port}`;
  await new Promise<void>((resolve, reject) => {
    const serverCredentials = tls === null || config.tls === null ? grpc.ServerCredentials.createInsecure() : tls.serverCredentials(config.tls.clientAuth);
    server.bindAsync(listen, serverCredentials, (error) => {
      if (error !== null) reject(new Error(`cannot listen on ${listen}: ${error.message}`, { cause: error }));
      else resolve();
    });
  });

  const readiness = (): ReadinessCheck => readinessOf(node.status(), config.id, config.readyLagEntriesMax);
  let lastHealth = '';
  let lastWorkerHealth = '';
  const healthTimer = setInterval(() => {
    const ok = readiness().ok ? 'SERVING' : 'NOT_SERVING';
    if (ok !== lastHealth) {
      health.setStatus('testudo.v1.Kv', ok);
      health.setStatus('testudo.v1.Runs', ok);
    }
    const leading = node.isLeader ? 'SERVING' : 'NOT_SERVING';
    if (leading !== lastWorkerHealth) health.setStatus('testudo.v1.Worker', leading);
    lastWorkerHealth = leading;
    lastHealth = ok;
  }, 100);
  healthTimer.unref();

  node.start();
  const http =
    config.http === null
      ? null
      : await startHttpServer({
          host: config.http.host,
          port: config.http.port,
          metrics,
          logger: childLogger(rootLogger, 'http'),
          livez: () => ({ ok: true }),
          readyz: readiness,
          status: () => ({ ...node.status(), progress: Object.fromEntries(node.status().progress), members: machine.members(), digest: machine.digest() }),
          chaos,
          tls,
          authorize: (request, path) => authorizeHttp(security.auth, request, path, audit, (route, reason) => authMetrics.callRefused(route, reason)),
          dashboard,
        });
  log.info({ listen, http: http?.address ?? null, founding, clusterId, tls: tlsSummary(tls, config) }, 'coordinator started');

  let stopped: Promise<void> | null = null;
  const stop = async (options: { transferLeadership?: boolean } = {}): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(healthTimer);
      // Injected disk delays would only slow the shutdown down.
      chaos?.stop();
      if (options.transferLeadership !== false && node.isLeader) await handOff(node, log);
      leader?.stop();
      dashboard?.stop();
      archive.stop();
      alerts.stop();
      stopLoopLagMonitor();
      leaderWait.close();
      server.forceShutdown();
      await node.stop();
      await transport!.close();
      peers.close();
      await http?.close();
      log.info('coordinator stopped');
    })();
    return stopped;
  };
  return {
    id: config.id,
    grpcAddress: listen,
    httpAddress: http === null ? null : `${http.address.host}:${http.address.port}`,
    node,
    stop,
    fatal,
    reloadTls: () => (tls === null ? null : reloadTlsLogged(tls, log)),
    reloadAuth: () =>
      security.auth === null || config.authFile === null ? null : reloadAuthLogged(security.auth, config.authFile, { nodeId: config.id, peerToken: security.peerToken }, log),
  };
}

function tlsSummary(tls: ReloadableTls | null, config: CoordinatorConfig): object | null {
  if (tls === null) return null;
  const m = tls.material;
  return { subject: m.subject, validTo: m.validTo, fingerprint256: m.fingerprint256, clientAuth: config.tls?.clientAuth ?? false };
}


/** What an operator should run for a follower whose log went back (docs/operations.md). */
export function repairAdvice(follower: NodeId): string {
  return `Repair: testudo cluster repair-member --id ${follower}, or remove it and add it back as a new member (docs/operations.md, "A follower whose log went back")`;
}

/**
 * Whether this node should take traffic. Every node needs a known leader and
 * an apply loop within `readyLagEntriesMax` of its own commit index; a
 * follower also must not trail the leader's commit index (as it last heard
 * it) by more than that, nor be one the leader reports it cannot catch up.
 */
export function readinessOf(st: ReturnType<RaftNode['status']>, self: NodeId, readyLagEntriesMax: number): ReadinessCheck {
  if (st.leader === NO_NODE) return { ok: false, reason: 'no leader known' };
  if (st.role !== 'leader') {
    if (st.leaderReportsRegression) {
      return { ok: false, reason: `leader ${st.leader} reports this node's log went back below what it had acknowledged; it cannot catch up. ${repairAdvice(self)}` };
    }
    const behind = st.leaderCommitHeard - st.appliedToMachine;
    if (behind > readyLagEntriesMax) {
      return {
        ok: false,
        reason: `applied index ${st.appliedToMachine} trails leader ${st.leader}'s commit index ${st.leaderCommitHeard} (as last heard) by ${behind} entries, more than readyLagEntriesMax ${readyLagEntriesMax}`,
      };
    }
  }
  if (st.commit - st.appliedToMachine > readyLagEntriesMax) {
    return { ok: false, reason: `applied index ${st.appliedToMachine} trails commit index ${st.commit} by more than readyLagEntriesMax ${readyLagEntriesMax}` };
  }
  return { ok: true, reason: 'ok' };
}

/** Before a graceful stop, a leader hands over so the cluster does not wait out an election. */
async function handOff(node: RaftNode<ApplyResult>, log: Logger): Promise<void> {
  const st = node.status();
  const successor = [...st.progress.entries()]
    .filter(([id, pr]) => id !== node.id && st.confState.voters.includes(id) && pr.regression === null)
    // A peer heard from lately first (one that is stopping too cannot take over), then the most caught up.
    .sort((a, b) => Number(b[1].recentActive) - Number(a[1].recentActive) || b[1].match - a[1].match)[0];
  if (successor === undefined) return;
  try {
    // recentActive is cleared every election timeout, so a live peer may not show it yet: try it, but briefly.
    await node.transferLeadership(successor[0], successor[1].recentActive ? 2000 : 300);
    log.info({ to: successor[0] }, 'handed leadership over before stopping');
  } catch (error) {
    log.warn({ err: error }, 'leadership hand-over before stopping failed; stopping anyway');
  }
}

/**
 * Refuses a data directory founded for another cluster or another node, and
 * returns the cluster id to use (a joiner without one asks its join addresses).
 */
async function checkClusterFile(config: CoordinatorConfig, logger: Logger, credentials: grpc.ChannelCredentials, peerToken: string | null): Promise<string> {
  const path = join(config.dataDir, 'cluster.json');
  let existing: ClusterFile | null = null;
  try {
    existing = JSON.parse(await readFile(path, 'utf8')) as ClusterFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DataDirError(config.dataDir, `${path} is unreadable or not JSON: ${(error as Error).message}`);
    }
  }
  if (existing !== null) {
    if (existing.nodeId !== config.id) throw new DataDirError(config.dataDir, `belongs to node ${existing.nodeId}, not ${config.id}`);
    await refuseLostRaftData(config, existing);
    if (config.clusterId !== '' && existing.clusterId !== config.clusterId) {
      throw new DataDirError(
        config.dataDir,
        `was founded for cluster ${existing.clusterId}, but this configuration names cluster ${config.clusterId} (inconsistent peer list: start with the founding --peers, or pass --cluster-id ${existing.clusterId})`,
      );
    }
    return existing.clusterId;
  }
  const clusterId = config.clusterId !== '' ? config.clusterId : await askClusterId(config, logger, credentials, peerToken);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify({ clusterId, nodeId: config.id } satisfies ClusterFile) + '\n');
  await rename(tmp, path);
  return clusterId;
}

/**
 * A node that has been in a cluster (its cluster.json is there) must not
 * start with no Raft data: it would come back as an empty voter that
 * forgot its vote and the entries it acknowledged. LevelDB's CURRENT and the
 * durable record are the files any initialized raft/ holds; with neither,
 * the data was wiped (or never written: a first start that died between the
 * two writes, which the message covers).
 */
async function refuseLostRaftData(config: CoordinatorConfig, existing: ClusterFile): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(join(config.dataDir, 'raft'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (names.includes('CURRENT') || names.includes(durableFileName)) return;
  throw new DataDirError(
    config.dataDir,
    `holds cluster.json (node ${existing.nodeId} of cluster ${existing.clusterId}) but its Raft data (raft/) is ${names.length === 0 ? 'missing or empty' : 'gone (no LevelDB CURRENT, no durable record)'}: ` +
      'this node was a member and has lost its log, term and vote, and must not start as an empty voter. ' +
      `Rejoin it as a new member: \`testudo cluster remove-member --id ${existing.nodeId}\`, move ${config.dataDir} aside, ` +
      `start it with an empty --data-dir and --join <member addresses> --cluster-id ${existing.clusterId}, then \`testudo cluster add-member --id ${existing.nodeId} --address <its address>\` ` +
      '(docs/operations.md, "Damaged or lost data"). If its very first start died before it wrote any Raft data, remove cluster.json instead.',
  );
}

/** A joining node adopts the id of the cluster it joins, from the first member that answers. */
async function askClusterId(config: CoordinatorConfig, logger: Logger, credentials: grpc.ChannelCredentials, peerToken: string | null): Promise<string> {
  const clients = new PeerClients(config.messageBytesMax, AddressRoutes.none, credentials, peerToken);
  try {
    for (const address of config.join) {
      try {
        const status = await clients.forward(address, 'Cluster', 'MemberStatus', {}, 2000);
        if (status.clusterId !== '') return status.clusterId;
      } catch (error) {
        logger.warn({ address, err: error }, 'join address did not answer');
      }
    }
  } finally {
    clients.close();
  }
  throw new DataDirError(config.dataDir, `is new and no join address (${config.join.join(', ')}) told this node its cluster id; pass --cluster-id`);
}

/**
 * The Raft transport's peer checks. With an auth file, a peer call must
 * carry the `peer` token named by the node id it claims; in any cluster a
 * message must name its stream's node as sender, and that node must not be
 * one this node saw removed (docs/security.md, "Peer authentication").
 */
function peerAuthOf(security: CoordinatorAuth, removed: RemovedMembers, authMetrics: AuthMetrics): PeerAuth {
  return {
    callMetadata: security.peerToken === null ? {} : { authorization: bearer(security.peerToken) },
    refuseCaller: (from, metadata) => {
      if (security.auth === null) return null;
      const principal = principalOf(metadata);
      if (principal?.role === 'peer' && principal.name === from && principal.via === '') return null;
      return `the call claims to come from ${from} but its credential is ${principal === null ? 'none' : `${principal.role ?? '?'} ${principal.name}`}`;
    },
    admitsSender: (from) => !removed.has(from),
    onRefused: (reason, count) => authMetrics.peerMessagesRefused(reason, count),
  };
}

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly dir: string;

  constructor(dir: string, message: string) {
    super(`data directory ${dir} ${message}`);
    this.dir = dir;
  }
}
