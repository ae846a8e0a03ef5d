import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { importViolations, sourceFiles } from './import-rules.js';

const repoSrc = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

describe('import directions', () => {
  it('holds in src/', () => {
    expect(sourceFiles(repoSrc).length).toBeGreaterThan(100);
    expect(importViolations(repoSrc)).toEqual([]);
  });

  describe('on a planted tree', () => {
    const root = mkdtempSync(join(tmpdir(), 'testudo-imports-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    function plant(path: string, text: string): void {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }

    it('finds each forbidden import and passes the allowed ones', () => {
      plant('worker/agent.ts', "import { x } from '../coordinator/proto.js';\nimport { y } from '../model/index.js';\n");
      plant('worker/lazy.ts', "export async function f() { return import('../coordinator/state.js'); }\n");
      plant('raft/core.ts', "import type { T } from '../model/types.js';\nimport { assert } from '../common/assert.js';\nimport { open } from 'node:fs';\nimport { r } from './rand.js';\n");
      plant('raft/sub/deep.ts', "export { z } from '../../security/roles.js';\n");
      plant('client/client.ts', "import { flags } from '../cli/flags.js';\n");
      plant('index.ts', "export * from './cli/main.js';\n");
      plant('cli/main.ts', "import { flags } from './flags.js';\nimport { c } from '../coordinator/coordinator.js';\n");
      expect(importViolations(root)).toEqual([
        'client/client.ts -> cli/flags.js (only src/cli imports src/cli)',
        'index.ts -> cli/main.js (only src/cli imports src/cli)',
        'raft/core.ts -> model/types.js (src/raft imports only src/raft and src/common)',
        'raft/sub/deep.ts -> security/roles.js (src/raft imports only src/raft and src/common)',
        'worker/agent.ts -> coordinator/proto.js (src/worker must not import src/coordinator)',
        'worker/lazy.ts -> coordinator/state.js (src/worker must not import src/coordinator)',
      ]);
    });
  });
});
