// Original file: proto/testudo.proto


export interface CancelAttempts {
  'attemptIds'?: (string)[];
  'reason'?: (string);
}

export interface CancelAttempts__Output {
  'attemptIds': (string)[];
  'reason': (string);
}
