// Original file: proto/testudo.proto


export interface CancelRunResponse {
  'state'?: (string);
  'cancelledAttempts'?: (number);
}

export interface CancelRunResponse__Output {
  'state': (string);
  'cancelledAttempts': (number);
}
