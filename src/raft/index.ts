export { RaftCore } from './core/core.js';
export { RaftNode, proposalsPendingMaxDefault } from './node/node.js';
export { readsPendingMax } from './node/reads.js';
export { hardStateToWrite } from './node/ready-write.js';
export { GrpcTransport, peerServerOptions, GRPC_TRANSPORT_DEFAULTS } from './transport/grpc-transport.js';
export { PeerDecodeError } from './transport/peer-codec.js';
export { ProposalDroppedError, ReadIndexError, NodeStoppedError, NodeOverloadedError, TransferTimeoutError } from './node/node-errors.js';
export { DEFAULTS as RAFT_DEFAULTS, resolveConfig } from './core/config.js';
export { MemoryStorage } from './storage/memory-storage.js';
export { LevelDbStorage, DataDirLockedError, ForeignDataDirError, entryCacheBytesMax, formatVersion } from './storage/leveldb-storage.js';
export { encodeDurableRecord, decodeDurableRecord, checkDurableState, DurableRecordError, durableRecordBytes } from './storage/durable-record.js';
export { durableFileName } from './storage/durable-file.js';
export { bootstrapState } from './core/bootstrap.js';
export { crc32c } from './crc32c.js';
export { SeededRng } from '../common/rand.js';
export { encodeConfChange, decodeConfChange, applyToConfState, isMember } from './core/conf-change.js';
export { majority, committedIndex, voteResult, quorumActive } from './core/quorum.js';
export {
  RaftError,
  NotLeaderError,
  ProposalLimitError,
  LeadershipTransferInProgressError,
  ConfChangeError,
  CompactedError,
  UnavailableError,
  CorruptionError,
  DurableStateRolledBackError,
  AssertionFailure,
  assert,
} from './core/errors.js';
export {
  NO_NODE,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  EntryType,
  ConfChangeType,
  MessageType,
  message,
  entryBytes,
  entriesBytes,
  isEmptySnapshot,
  hardStateEqual,
} from './core/types.js';

export type { RaftConfig, ReadMode } from './core/config.js';
export type { RaftStatus, ProgressStatus } from './core/core.js';
export type { ProgressRegression } from './core/progress.js';
export type { Storage } from './core/storage.js';
export type { DurableCheck, DurableCheckMode, StoragePlantedBug } from './storage/leveldb-storage.js';
export type { DurableRecord, ObservedDurableState } from './storage/durable-record.js';
export type { StateMachine } from './node/state-machine.js';
export type { Transport, TransportHandler } from './transport/transport.js';
export type { RaftNodeOptions, RaftNodeObserver } from './node/node.js';
export type { GrpcTransportOptions, GrpcTransportStats, PeerAuth, PeerLogger, PeerRefusal } from './transport/grpc-transport.js';
export type { Rng } from '../common/rand.js';
export type { VoteResult } from './core/quorum.js';
export type {
  NodeId,
  Entry,
  HardState,
  ConfState,
  Snapshot,
  SnapshotMetadata,
  ConfChange,
  Message,
  Role,
  SoftState,
  ReadState,
  ReadFailure,
  Ready,
} from './core/types.js';
