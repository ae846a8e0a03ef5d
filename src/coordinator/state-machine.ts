// The interface lives with the Raft library, which drives it; the coordinator implements it.
export type { StateMachine } from '../raft/index.js';
