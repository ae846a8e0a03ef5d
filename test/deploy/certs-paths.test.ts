// The files deploy/docker-compose.yml and deploy/prometheus/prometheus.yml
// expect in ./certs are exactly the files `testudo certs init` writes: the
// command in the Compose file's header is run for real into a temporary
// folder, and every ./certs path the services mount or name must exist there.

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../cli/cli-process.js';
import { deployDir, parseYaml } from './files.js';

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}
interface Compose {
  services: Record<string, Service>;
}

const composeText = readFileSync(join(deployDir, 'docker-compose.yml'), 'utf8');
const compose = parseYaml(composeText, 'deploy/docker-compose.yml')[0] as Compose;
const prometheusConfig = parseYaml(readFileSync(join(deployDir, 'prometheus', 'prometheus.yml'), 'utf8'), 'deploy/prometheus/prometheus.yml')[0] as unknown;

/** The `testudo certs init deploy/certs …` line of the Compose file's header, as arguments after the folder. */
function certsInitArgs(text: string): string[] {
  const match = /^#\s+testudo certs init deploy\/certs(.*)$/m.exec(text);
  if (match === null) throw new Error('docker-compose.yml names no `testudo certs init deploy/certs` command');
  return match[1]!.trim().split(/\s+/).filter((a) => a !== '');
}

/**
 * Every path under ./certs a service uses, relative to ./certs: the source
 * of a file mounted from ./certs/…, and each path inside a mount of the
 * whole ./certs folder that its environment or command names.
 */
function certsReferences(doc: Compose): { service: string; path: string }[] {
  const out: { service: string; path: string }[] = [];
  for (const [service, s] of Object.entries(doc.services)) {
    const words = [...Object.values(s.environment ?? {}), ...(s.command ?? [])].map(String);
    for (const volume of s.volumes ?? []) {
      const [source, target] = volume.split(':') as [string, string];
      if (source.startsWith('./certs/')) out.push({ service, path: source.slice('./certs/'.length) });
      if (source !== './certs') continue;
      for (const word of words) {
        for (const m of word.matchAll(new RegExp(`${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^\\s,'"]+)`, 'g'))) out.push({ service, path: m[1]! });
      }
    }
  }
  return out;
}

/** The references of `doc` that are not in `dir`, as "service: path". */
function missing(doc: Compose, dir: string): string[] {
  return certsReferences(doc)
    .filter((r) => !existsSync(join(dir, r.path)))
    .map((r) => `${r.service}: ${r.path}`);
}

/** Every `*_file` value in a Prometheus configuration. */
function prometheusFiles(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) prometheusFiles(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k.endsWith('_file') && typeof v === 'string') out.push(v);
      else prometheusFiles(v, out);
    }
  }
  return out;
}

describe("the certificates and tokens deploy/ expects are what `certs init` writes", () => {
  let scratch: string;
  let certs: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'testudo-deploy-certs-'));
    certs = join(scratch, 'certs');
    const out = await runCli(['certs', 'init', certs, ...certsInitArgs(composeText)]);
    expect(out.stderr.toString()).toBe('');
    expect(out.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('every ./certs path the Compose services mount or name exists in its output', () => {
    const references = certsReferences(compose);
    // Each coordinator: CA, its certificate and key, the auth file and its own peer token.
    for (const id of ['n1', 'n2', 'n3']) {
      expect(references.filter((r) => r.service === id).map((r) => r.path).sort()).toEqual(['auth.yaml', 'ca.pem', `${id}-key.pem`, `${id}.pem`, `tokens/${id}.token`].sort());
    }
    expect(references.filter((r) => r.service === 'w1').map((r) => r.path).sort()).toEqual(['auth.yaml', 'ca.pem', 'tokens/worker.token', 'w1-key.pem', 'w1.pem'].sort());
    expect(references.filter((r) => r.service === 'prometheus').length).toBe(4);
    expect(missing(compose, certs)).toEqual([]);
  });

  it('the check fails on a planted wrong name', () => {
    const planted = structuredClone(compose);
    planted.services['n1']!.environment!['TESTUDO_TLS_CERT'] = '/etc/testudo/certs/n1.crt';
    planted.services['prometheus']!.volumes![0] = './certs/tokens/peer.token:/etc/prometheus/tokens/readonly.token:ro';
    expect(missing(planted, certs)).toEqual(expect.arrayContaining(['n1: n1.crt', 'prometheus: tokens/peer.token']));
  });

  it('the Kubernetes Secrets deploy/README.md makes map every key the example overlay holds to a file certs init writes', async () => {
    const readme = readFileSync(join(deployDir, 'README.md'), 'utf8');
    const block = /```sh\n(D=\S+)\n(testudo certs init certs [\s\S]*?)```/.exec(readme);
    expect(block, 'the Kubernetes block of deploy/README.md').not.toBeNull();
    const domain = block![1]!.slice('D='.length);
    const lines = block![2]!.replace(/\\\n/g, ' ').replaceAll('$D', domain).split('\n');
    const init = lines.find((l) => l.startsWith('testudo certs init certs '))!.trim().split(/\s+/).slice(4);
    const k8s = join(scratch, 'k8s');
    const out = await runCli(['certs', 'init', join(k8s, 'certs'), ...init]);
    expect(out.stderr.toString()).toBe('');
    expect(out.code).toBe(0);
    const secrets = new Map<string, Map<string, string>>();
    for (const line of lines.filter((l) => l.startsWith('kubectl'))) {
      const name = /create secret generic (\S+)/.exec(line)![1]!;
      secrets.set(name, new Map([...line.matchAll(/--from-file=([^=\s]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
    }
    const overlay = parseYaml(readFileSync(join(deployDir, 'k8s', 'overlays', 'example', 'secrets.yaml'), 'utf8'), 'secrets.yaml') as { metadata: { name: string }; stringData: Record<string, string> }[];
    const unmapped = (mapping: Map<string, Map<string, string>>): string[] =>
      overlay.flatMap((secret) =>
        Object.keys(secret.stringData).flatMap((key) => {
          const file = mapping.get(secret.metadata.name)?.get(key);
          if (file === undefined) return [`${secret.metadata.name}/${key}: no --from-file`];
          return existsSync(join(k8s, file)) ? [] : [`${secret.metadata.name}/${key}: ${file} not written`];
        }),
      );
    expect(unmapped(secrets)).toEqual([]);
    // The check on a planted wrong file name and a forgotten key.
    const planted = new Map([...secrets].map(([name, keys]) => [name, new Map(keys)]));
    planted.get('testudo-tls')!.set('ca.crt', 'certs/ca.crt');
    planted.get('testudo-tokens')!.delete('readonly.token');
    expect(unmapped(planted).sort()).toEqual(['testudo-tls/ca.crt: certs/ca.crt not written', 'testudo-tokens/readonly.token: no --from-file']);
  });

  it("Prometheus reads only files the Compose file mounts into its container", () => {
    const targets = new Set((compose.services['prometheus']!.volumes ?? []).map((v) => v.split(':')[1]!));
    const files = prometheusFiles(prometheusConfig);
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !targets.has(f))).toEqual([]);
  });
});
