// Original file: proto/testudo.proto


export interface AddMemberRequest {
  'id'?: (string);
  'address'?: (string);
  /**
   * Leave the new member a learner (default: promote it to voter once it has
   * caught up).
   */
  'learnerOnly'?: (boolean);
}

export interface AddMemberRequest__Output {
  'id': (string);
  'address': (string);
  /**
   * Leave the new member a learner (default: promote it to voter once it has
   * caught up).
   */
  'learnerOnly': (boolean);
}
