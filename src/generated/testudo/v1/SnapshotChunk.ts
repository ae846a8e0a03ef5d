// Original file: proto/testudo.proto

import type { SnapshotHeader as _testudo_v1_SnapshotHeader, SnapshotHeader__Output as _testudo_v1_SnapshotHeader__Output } from '../../testudo/v1/SnapshotHeader.js';

/**
 * The first chunk carries the header; every chunk carries the next bytes of
 * a testudo.v1.MachineSnapshot (at most 1 MiB each).
 */
export interface SnapshotChunk {
  'header'?: (_testudo_v1_SnapshotHeader | null);
  'data'?: (Buffer | Uint8Array | string);
}

/**
 * The first chunk carries the header; every chunk carries the next bytes of
 * a testudo.v1.MachineSnapshot (at most 1 MiB each).
 */
export interface SnapshotChunk__Output {
  'header': (_testudo_v1_SnapshotHeader__Output | null);
  'data': (Buffer);
}
