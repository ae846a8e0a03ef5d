import { Gauge, type Registry } from 'prom-client';

import { testudoCommit, testudoVersion } from './version.js';

/**
 * Adds `testudo_build_info{version,commit} 1` to `registry`, the usual
 * Prometheus build-info gauge: `count by (version) (testudo_build_info)`
 * shows a rolling upgrade's progress, and `* on(instance) group_left(version)`
 * joins the version onto any other series. Coordinators and workers both
 * export it.
 */
export function registerBuildInfo(registry: Registry, build: { version: string; commit: string } = { version: testudoVersion, commit: testudoCommit }): void {
  if (build.version === '' || build.commit === '') throw new RangeError('registerBuildInfo: version and commit must not be empty');
  const gauge = new Gauge({
    name: 'testudo_build_info',
    help: 'Always 1; the labels say which Testudo version and commit this process runs.',
    labelNames: ['version', 'commit'],
    registers: [registry],
  });
  gauge.set({ version: build.version, commit: build.commit }, 1);
}
