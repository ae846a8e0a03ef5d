import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time, also on 2 cores (vitest's default there is 1):
    // most files wait on real clusters, so the suite takes about half as long
    // (768 s against 1,473 s one at a time, both while other work loaded this
    // machine; the final quiet figure is in the README). Ports are reserved
    // across processes (src/cluster/ports.ts), so parallel files never share one.
    maxWorkers: 2,
  },
});
