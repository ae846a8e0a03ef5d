import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';

import { envName, CONFIG_FIELDS } from '../../src/coordinator/config.js';
import { cliFlags, deployDir, parseYaml, unknownFlags } from './files.js';

interface Service {
  hostname?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[] };
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeFile = join(deployDir, 'docker-compose.yml');
const compose = parseYaml(readFileSync(composeFile, 'utf8'), 'deploy/docker-compose.yml')[0] as Compose;
const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'schemas', 'compose-spec.json'), 'utf8')) as object;

/** A validator of the Compose Specification schema (draft-07), vendored in schemas/. */
function composeValidator(): (doc: unknown) => string[] {
  // strict: false because the schema uses annotation keywords Ajv does not
  // know (deprecated); formats it names are not checked.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  // Its $schema spells draft-07's address in a form Ajv does not know
  // (https, no '#'); the schema is draft-07, which Ajv uses by default.
  const { $schema: _draft, ...draft07 } = schema as { $schema?: string };
  const validate = ajv.compile(draft07);
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`));
}

const coordinators = ['n1', 'n2', 'n3'];
const workers = ['w1', 'w2', 'w3'];

describe('deploy/docker-compose.yml', () => {
  const validate = composeValidator();

  it('matches the Compose Specification schema', () => {
    expect(validate(compose)).toEqual([]);
  });

  it('the schema check refuses a misspelt key and a wrong type (planted)', () => {
    const misspelt = structuredClone(compose);
    (misspelt.services['n1'] as Record<string, unknown>)['volumez'] = ['n1-data:/var/lib/testudo'];
    expect(validate(misspelt).join('\n')).toMatch(/volumez/);
    const wrongType = structuredClone(compose);
    (wrongType.services['n1'] as Record<string, unknown>)['hostname'] = ['n1'];
    expect(validate(wrongType).join('\n')).toMatch(/hostname/);
  });

  it('runs 3 coordinators with fixed hostnames, a volume each, a health check and the cluster certificates', () => {
    const dataVolumes = new Set<string>();
    for (const id of coordinators) {
      const s = compose.services[id]!;
      expect(s.hostname).toBe(id);
      expect(s.command?.[0]).toBe('coordinator');
      expect(s.command).toContain(`--id=${id}`);
      expect(s.command).toContain(`--advertise=${id}:7001`);
      expect(s.command).toContain('--tls-client-auth');
      expect(s.healthcheck?.test).toEqual(['CMD', 'node', '/app/healthcheck.mjs', '/readyz']);
      const data = s.volumes?.find((v) => v.endsWith(':/var/lib/testudo'));
      expect(data, `${id} data volume`).toBeDefined();
      const name = data!.split(':')[0]!;
      expect(compose.volumes, `volume ${name} declared`).toHaveProperty(name);
      dataVolumes.add(name);
      expect(s.volumes).toContain('./certs:/etc/testudo/certs:ro');
      expect(s.environment?.['TESTUDO_PEERS']).toBe('n1=n1:7001,n2=n2:7001,n3=n3:7001');
      expect(s.environment?.['TESTUDO_TLS_CERT']).toBe(`/etc/testudo/certs/${id}.pem`);
      expect(s.environment?.['TESTUDO_TOKEN_FILE']).toBe(`/etc/testudo/certs/tokens/${id}.token`);
    }
    expect(dataVolumes.size).toBe(3);
  });

  it('runs 3 workers that dial every coordinator with TLS and a worker token', () => {
    for (const id of workers) {
      const s = compose.services[id]!;
      expect(s.hostname).toBe(id);
      expect(s.command?.[0]).toBe('worker');
      expect(s.command).toContain('--coordinators=n1:7001,n2:7001,n3:7001');
      expect(s.environment?.['TESTUDO_TOKEN_FILE']).toBe('/etc/testudo/certs/tokens/worker.token');
      expect(s.healthcheck?.test).toEqual(['CMD', 'node', '/app/healthcheck.mjs', '/livez']);
      expect(s.volumes).toContain('./certs:/etc/testudo/certs:ro');
    }
  });

  it('provisions Prometheus with the rules and Grafana with the dashboard, from files in the repository', () => {
    const prometheus = compose.services['prometheus']!;
    const grafana = compose.services['grafana']!;
    expect(prometheus.volumes).toContain('./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
    expect(grafana.volumes).toContain('./grafana/testudo.json:/etc/grafana/dashboards/testudo.json:ro');
    // Every bind mount from the repository names a file that exists; ./certs
    // and ./workspace are the operator's own.
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('./') || source.startsWith('./certs') || source.startsWith('./workspace')) continue;
        expect(existsSync(join(deployDir, source)), `${name}: ${source}`).toBe(true);
      }
    }
  });

  it('publishes ports on the loopback address only', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('uses only flags the coordinator and worker commands accept', () => {
    const known = cliFlags();
    const unknown = [
      ...coordinators.flatMap((id) => unknownFlags(compose.services[id]!.command!.slice(1), known.coordinator, id)),
      ...workers.flatMap((id) => unknownFlags(compose.services[id]!.command!.slice(1), known.worker, id)),
    ];
    expect(unknown).toEqual([]);
    // The checker itself (planted).
    expect(unknownFlags(['--id=n1', '--no-such-flag=1'], known.coordinator, 'planted')).toEqual(['planted: --no-such-flag']);
  });

  it("sets coordinators' TESTUDO_* variables only from the settings the coordinator reads", () => {
    const known = new Set(CONFIG_FIELDS.map((f) => envName(f)));
    for (const id of coordinators) {
      const names = Object.keys(compose.services[id]!.environment ?? {}).filter((n) => n.startsWith('TESTUDO_'));
      expect(names.filter((n) => !known.has(n)), id).toEqual([]);
    }
  });
});
