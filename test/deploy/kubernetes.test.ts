import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { cliFlags, deployDir, unknownFlags } from './files.js';
import { KustomizeError, podContainers, renderKustomization, type K8sObject } from './kustomize.js';
import { schemaProblems } from './k8s-schemas.js';

const base = renderKustomization(join(deployDir, 'k8s', 'base'));
const overlay = renderKustomization(join(deployDir, 'k8s', 'overlays', 'example'));

function find(objects: K8sObject[], kind: string, name: string): K8sObject & { spec: Record<string, unknown> } {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind}/${name}`);
  return o as K8sObject & { spec: Record<string, unknown> };
}

/** The value at a dotted path (`spec.template.spec.containers.0.image`); undefined when any step is missing. */
function at(o: unknown, path: string): unknown {
  let value = o;
  for (const step of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

describe('deploy/k8s', () => {
  it('renders the base and the example overlay', () => {
    const kinds = (objects: K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds(base)).toEqual([
      'ConfigMap/testudo-cluster',
      'ConfigMap/testudo-coordinator-start',
      'Deployment/testudo-worker',
      'PodDisruptionBudget/testudo',
      'ScaledObject/testudo-worker',
      'Service/testudo',
      'Service/testudo-peers',
      'Service/testudo-worker',
      'StatefulSet/testudo',
    ]);
    expect(kinds(overlay)).toEqual([...kinds(base), 'Namespace/testudo', 'Secret/testudo-tls', 'Secret/testudo-tokens'].sort());
  });

  it.each([
    ['base', base],
    ['overlay', overlay],
  ])('every object of the %s matches its Kubernetes (or KEDA) schema', (_name, objects) => {
    for (const o of objects) expect(schemaProblems(o), `${o.kind}/${o.metadata.name}`).toEqual([]);
  });

  it('the schema check refuses a wrong type, a missing field and an unknown kind (planted)', () => {
    const wrongType = structuredClone(find(base, 'StatefulSet', 'testudo'));
    wrongType.spec['replicas'] = 'three';
    expect(schemaProblems(wrongType).join('\n')).toMatch(/replicas/);
    const missing = structuredClone(find(base, 'Deployment', 'testudo-worker'));
    delete missing.spec['selector'];
    expect(schemaProblems(missing).join('\n')).toMatch(/selector/);
    const scaled = structuredClone(find(base, 'ScaledObject', 'testudo-worker'));
    delete scaled.spec['scaleTargetRef'];
    expect(schemaProblems(scaled).join('\n')).toMatch(/scaleTargetRef/);
    expect(schemaProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }).join('\n')).toMatch(/no schema/);
    // A misspelt field, which the API server's lenient decoding would drop.
    const typo = structuredClone(find(base, 'Service', 'testudo-peers'));
    typo.spec['publishNotReadyAdresses'] = true;
    expect(schemaProblems(typo)).toEqual(['spec.publishNotReadyAdresses: not a field of Service (misspelt, or from another API version?)']);
    const nested = structuredClone(find(base, 'StatefulSet', 'testudo'));
    (podContainers(nested)[0]!['livenessProbe'] as Record<string, unknown>)['initialDelay'] = 5;
    expect(schemaProblems(nested).join('\n')).toMatch(/spec\.template\.spec\.containers\[0\]\.livenessProbe\.initialDelay: not a field/);
  });

  it('runs the coordinators as a StatefulSet behind a headless Service, started in parallel, a volume each', () => {
    const sts = find(base, 'StatefulSet', 'testudo');
    const peers = find(base, 'Service', 'testudo-peers');
    expect(sts.spec['serviceName']).toBe('testudo-peers');
    expect(sts.spec['podManagementPolicy']).toBe('Parallel');
    expect(sts.spec['replicas']).toBe(3);
    expect(at(sts, 'spec.volumeClaimTemplates.0.metadata.name')).toBe('data');
    expect(peers.spec['clusterIP']).toBe('None');
    expect(peers.spec['publishNotReadyAddresses']).toBe(true);
    const pdb = find(base, 'PodDisruptionBudget', 'testudo');
    expect(pdb.spec['maxUnavailable']).toBe(1);
    expect(at(pdb, 'spec.selector.matchLabels')).toEqual(at(sts, 'spec.selector.matchLabels'));
    expect(peers.spec['selector']).toEqual(at(sts, 'spec.selector.matchLabels'));
  });

  it('probes liveness on /livez and readiness on /readyz, as a non-root user on a read-only root', () => {
    const sts = find(base, 'StatefulSet', 'testudo');
    const c = podContainers(sts)[0];
    expect(at(c, 'livenessProbe.exec.command')).toEqual(['node', '/app/healthcheck.mjs', '/livez']);
    expect(at(c, 'readinessProbe.exec.command')).toEqual(['node', '/app/healthcheck.mjs', '/readyz']);
    expect(at(c, 'securityContext.readOnlyRootFilesystem')).toBe(true);
    expect(at(c, 'securityContext.allowPrivilegeEscalation')).toBe(false);
    expect(at(c, 'resources.requests.memory')).toBeDefined();
    for (const workload of [sts, find(base, 'Deployment', 'testudo-worker')]) {
      expect(at(workload, 'spec.template.spec.securityContext.runAsNonRoot')).toBe(true);
      expect(at(workload, 'spec.template.spec.securityContext.runAsUser')).toBe(1000);
    }
  });

  it('mounts TLS and tokens from Secrets, and each Secret the pods name is in the overlay with every key they read', () => {
    const secrets = new Map(overlay.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, Object.keys(o['stringData'] as object)]));
    for (const workload of overlay.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')) {
      const volumes = at(workload, 'spec.template.spec.volumes') as { secret?: { secretName: string; items?: { key: string }[] } }[];
      for (const v of volumes.filter((x) => x.secret !== undefined)) {
        const keys = secrets.get(v.secret!.secretName);
        expect(keys, `${workload.metadata.name}: secret ${v.secret!.secretName}`).toBeDefined();
        for (const item of v.secret!.items ?? []) expect(keys).toContain(item.key);
      }
    }
    const tlsKeys = secrets.get('testudo-tls')!;
    for (const i of [0, 1, 2]) expect(tlsKeys).toEqual(expect.arrayContaining([`testudo-${i}.crt`, `testudo-${i}.key`]));
  });

  it('scales the workers with KEDA on the queue depth query', () => {
    const scaled = find(base, 'ScaledObject', 'testudo-worker');
    expect(scaled.spec['scaleTargetRef']).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'testudo-worker' });
    expect(at(scaled, 'spec.triggers.0.type')).toBe('prometheus');
    expect(at(scaled, 'spec.triggers.0.metadata.query')).toContain('testudo_tasks');
  });

  it('the overlay sets the namespace, the image, the storage class and the worker count', () => {
    for (const o of overlay.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('testudo');
    const sts = find(overlay, 'StatefulSet', 'testudo');
    expect(podContainers(sts)[0]!['image']).toBe('registry.example.com/ci/testudo:0.1.0');
    expect(podContainers(find(overlay, 'Deployment', 'testudo-worker'))[0]!['image']).toBe('registry.example.com/ci/testudo:0.1.0');
    expect(at(sts, 'spec.volumeClaimTemplates.0.spec.storageClassName')).toBe('fast-ssd');
    expect(at(sts, 'spec.volumeClaimTemplates.0.spec.resources.requests.storage')).toBe('20Gi');
    expect(find(overlay, 'Deployment', 'testudo-worker').spec['replicas']).toBe(4);
    expect(find(overlay, 'ScaledObject', 'testudo-worker').spec['maxReplicaCount']).toBe(40);
    // The base is left as it was.
    expect(find(base, 'Deployment', 'testudo-worker').spec['replicas']).toBe(2);
  });

  it('the renderer refuses what it does not support and patches that miss (planted)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'testudo-kustomize-'));
    try {
      writeFileSync(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {}\n');
      const write = (body: string): void => writeFileSync(join(dir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n${body}`);
      write('commonLabels: {a: b}\n');
      expect(() => renderKustomization(dir)).toThrow(KustomizeError);
      write('patches:\n  - target: {kind: ConfigMap, name: b}\n    patch: "[{op: add, path: /data/x, value: y}]"\n');
      expect(() => renderKustomization(dir)).toThrow(/matches no resource/);
      write('patches:\n  - target: {kind: ConfigMap, name: a}\n    patch: "[{op: replace, path: /data/x, value: y}]"\n');
      expect(() => renderKustomization(dir)).toThrow(/nothing there/);
      write('patches:\n  - target: {kind: ConfigMap, name: a}\n    patch: "[{op: add, path: /data/x, value: y}]"\n');
      expect(renderKustomization(dir)[0]!['data']).toEqual({ x: 'y' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses only flags the coordinator and worker commands accept', () => {
    const known = cliFlags();
    const sts = find(base, 'StatefulSet', 'testudo');
    const worker = find(base, 'Deployment', 'testudo-worker');
    const startScriptFlags = ['--id', '--advertise', '--peers', '--join'];
    expect([
      ...unknownFlags([...(podContainers(sts)[0]!['args'] as string[]), ...startScriptFlags], known.coordinator, 'StatefulSet testudo'),
      ...unknownFlags((podContainers(worker)[0]!['args'] as string[]).slice(1), known.worker, 'Deployment testudo-worker'),
    ]).toEqual([]);
  });
});

describe('coordinator-start.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'testudo-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in `testudo` on PATH that prints the arguments it was given.
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'testudo'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
  chmodSync(join(dir, 'bin', 'testudo'), 0o755);
  const script = join(deployDir, 'k8s', 'base', 'coordinator-start.sh');

  function start(pod: string, state: string, options: { hasData?: boolean; founding?: string } = {}): { code: number | null; args: string[]; stderr: string } {
    const dataDir = join(dir, `data-${pod}-${state}-${options.hasData === true}`);
    mkdirSync(dataDir, { recursive: true });
    if (options.hasData === true) writeFileSync(join(dataDir, 'cluster.json'), '{}');
    const result = spawnSync('/bin/sh', [script, '--tls-client-auth'], {
      encoding: 'utf8',
      env: {
        PATH: `${join(dir, 'bin')}:/usr/bin:/bin`,
        POD_NAME: pod,
        POD_NAMESPACE: 'ci',
        PEER_SERVICE: 'testudo-peers',
        CLUSTER_DOMAIN: 'cluster.local',
        GRPC_PORT: '7001',
        FOUNDING_MEMBERS: options.founding ?? '3',
        CLUSTER_STATE: state,
        TESTUDO_DATA_DIR: dataDir,
      },
    });
    return { code: result.status, args: result.stdout.trim().split('\n'), stderr: result.stderr };
  }
  const address = (i: number): string => `testudo-${i}.testudo-peers.ci.svc.cluster.local:7001`;
  const peers = [0, 1, 2].map((i) => `testudo-${i}=${address(i)}`).join(',');

  it('founds the cluster with --peers when it is created', () => {
    const { code, args } = start('testudo-1', 'new');
    expect(code).toBe(0);
    expect(args).toEqual(['coordinator', '--id', 'testudo-1', '--advertise', address(1), '--peers', peers, '--tls-client-auth']);
  });

  it('restarts a founding member on its data with --peers', () => {
    expect(start('testudo-0', 'existing', { hasData: true }).args).toContain('--peers');
  });

  it('starts a founding member that lost its data with --join, never as an empty voter', () => {
    const { args } = start('testudo-2', 'existing');
    expect(args).toEqual(['coordinator', '--id', 'testudo-2', '--advertise', address(2), '--join', `${address(0)},${address(1)}`, '--tls-client-auth']);
  });

  it('starts a pod beyond the founding members with --join, even while the cluster is created', () => {
    const { args } = start('testudo-3', 'new');
    expect(args.slice(0, 6)).toEqual(['coordinator', '--id', 'testudo-3', '--advertise', address(3), '--join']);
    expect(args[6]).toBe([0, 1, 2].map(address).join(','));
  });

  it('refuses bad settings with exit 2', () => {
    expect(start('testudo-0', 'maybe').code).toBe(2);
    expect(start('testudo-0', 'new', { founding: 'three' }).code).toBe(2);
    expect(start('coordinator', 'new').code).toBe(2);
  });
});
