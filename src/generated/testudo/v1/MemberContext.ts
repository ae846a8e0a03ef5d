// Original file: proto/testudo.proto


/**
 * The context of a membership change entry.
 */
export interface MemberContext {
  'address'?: (string);
}

/**
 * The context of a membership change entry.
 */
export interface MemberContext__Output {
  'address': (string);
}
