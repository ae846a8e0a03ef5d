// Original file: proto/testudo.proto


export interface BreakerConfigRequest {
  /**
   * JSON object of the settings to change (window, minimumCalls,
   * failureRateThreshold, slowCallDurationMs, slowCallRateThreshold,
   * openBaseMs, openMaxMs, halfOpenProbes, quarantineCooldownMs); empty: read.
   */
  'set'?: (string);
}

export interface BreakerConfigRequest__Output {
  /**
   * JSON object of the settings to change (window, minimumCalls,
   * failureRateThreshold, slowCallDurationMs, slowCallRateThreshold,
   * openBaseMs, openMaxMs, halfOpenProbes, quarantineCooldownMs); empty: read.
   */
  'set': (string);
}
