import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { deployFiles, parseYaml, repoRoot } from './files.js';

describe('YAML under deploy/', () => {
  const files = deployFiles(['.yml', '.yaml']);

  it('finds the compose file, the Kubernetes manifests and the Prometheus and Grafana files', () => {
    expect(files).toContain('deploy/docker-compose.yml');
    expect(files).toContain('deploy/k8s/base/kustomization.yaml');
    expect(files).toContain('deploy/k8s/overlays/example/kustomization.yaml');
    expect(files).toContain('deploy/prometheus/alerts.yml');
    expect(files).toContain('deploy/prometheus/alerts.test.yml');
    expect(files).toContain('deploy/grafana/provisioning/datasources/prometheus.yml');
    expect(files.length).toBeGreaterThanOrEqual(17);
  });

  it.each(files)('%s parses with no error or warning and holds a document', (file) => {
    const docs = parseYaml(readFileSync(join(repoRoot, file), 'utf8'), file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) expect(typeof doc).toBe('object');
  });

  it('refuses a duplicate key and a broken indentation (planted)', () => {
    expect(() => parseYaml('services:\n  n1: {}\n  n1: {}\n', 'planted duplicate')).toThrow(/planted duplicate: .*unique/i);
    expect(() => parseYaml('a:\n  - b\n c: d\n', 'planted indentation')).toThrow(/planted indentation/);
  });
});
