// Original file: proto/testudo.proto


/**
 * A write whose only purpose is to go through the log (for example a probe).
 */
export interface Noop {
}

/**
 * A write whose only purpose is to go through the log (for example a probe).
 */
export interface Noop__Output {
}
