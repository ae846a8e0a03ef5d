// Original file: proto/testudo.proto


export interface RunCounts {
  'tasks'?: (number);
  'queued'?: (number);
  'running'?: (number);
  'passed'?: (number);
  'failed'?: (number);
  'cancelled'?: (number);
  'failedInfra'?: (number);
}

export interface RunCounts__Output {
  'tasks': (number);
  'queued': (number);
  'running': (number);
  'passed': (number);
  'failed': (number);
  'cancelled': (number);
  'failedInfra': (number);
}
