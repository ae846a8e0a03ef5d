import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { importViolations, raftFoldersOutsideLayers, sourceFiles } from './import-rules.js';

const repoSrc = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

describe('import directions', () => {
  it('holds in src/', () => {
    expect(sourceFiles(repoSrc).length).toBeGreaterThan(100);
    expect(importViolations(repoSrc)).toEqual([]);
  });

  it('finds src/raft in its four layers, each holding files', () => {
    expect(raftFoldersOutsideLayers(repoSrc)).toEqual([]);
    for (const layer of ['core', 'node', 'storage', 'transport']) {
      expect(sourceFiles(join(repoSrc, 'raft', layer)).length, layer).toBeGreaterThan(0);
    }
  });

  describe('on a planted tree', () => {
    const root = mkdtempSync(join(tmpdir(), 'testudo-imports-'));
    const layered = mkdtempSync(join(tmpdir(), 'testudo-raft-layers-'));
    afterAll(() => {
      rmSync(root, { recursive: true, force: true });
      rmSync(layered, { recursive: true, force: true });
    });

    function plantIn(tree: string, path: string, text: string): void {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
    const plant = (path: string, text: string): void => plantIn(root, path, text);

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

    it('finds each import against the src/raft layers and passes the allowed ones', () => {
      const put = (path: string, text: string): void => plantIn(layered, path, text);
      put('raft/core/core.ts', "import { T } from './types.js';\nimport { c } from '../crc32c.js';\nimport { a } from '../../common/assert.js';\nimport type { L } from '../storage/leveldb-storage.js';\nimport { N } from '../node/node.js';\nexport { R } from '../index.js';\n");
      put('raft/storage/memory.ts', "import { T } from '../core/types.js';\nimport { c } from '../crc32c.js';\nimport { p } from '../transport/peer-codec.js';\nimport type { N } from '../node/node.js';\n");
      put('raft/transport/codec.ts', "import type { T } from '../core/types.js';\nexport async function f() { return import('../storage/durable-record.js'); }\n");
      put('raft/node/node.ts', "import { C } from '../core/core.js';\nimport { S } from '../storage/memory.js';\nimport { G } from '../transport/codec.js';\nimport { R } from '../index.js';\n");
      put('raft/crc32c.ts', "import type { T } from './core/types.js';\n");
      put('raft/index.ts', "export * from './core/core.js';\nexport * from './node/node.js';\nexport { c } from './crc32c.js';\n");
      put('raft/extra/x.ts', '');
      expect(importViolations(layered)).toEqual([
        'raft/core/core.ts -> raft/index.js (src/raft/core imports no other src/raft layer)',
        'raft/core/core.ts -> raft/node/node.js (src/raft/core imports no other src/raft layer)',
        'raft/core/core.ts -> raft/storage/leveldb-storage.js (src/raft/core imports no other src/raft layer)',
        'raft/crc32c.ts -> raft/core/types.js (src/raft leaves (top-level files but index.ts) import no layer)',
        'raft/node/node.ts -> raft/index.js (src/raft/node imports core, storage, transport and leaves)',
        'raft/storage/memory.ts -> raft/node/node.js (src/raft/storage imports only src/raft/core and leaves)',
        'raft/storage/memory.ts -> raft/transport/peer-codec.js (src/raft/storage imports only src/raft/core and leaves)',
        'raft/transport/codec.ts -> raft/storage/durable-record.js (src/raft/transport imports only src/raft/core and leaves)',
      ]);
      expect(raftFoldersOutsideLayers(layered)).toEqual(['extra']);
    });
  });
});
