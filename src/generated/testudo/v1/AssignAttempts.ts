// Original file: proto/testudo.proto


export interface AssignAttempts {
  /**
   * JSON of AttemptOrder each.
   */
  'orders'?: (string)[];
}

export interface AssignAttempts__Output {
  /**
   * JSON of AttemptOrder each.
   */
  'orders': (string)[];
}
