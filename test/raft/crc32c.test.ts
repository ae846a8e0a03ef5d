import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/raft/crc32c.js';

/** Bit-at-a-time CRC32C, the definition the table-driven version must match. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32c', () => {
  it('matches the published check value and RFC 3720 vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(crc32c(ascending)).toBe(0x46dd794e);
  });

  it('is 0 for no data', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('matches the bitwise definition at every length around the 8-byte stride', () => {
    const data = Uint8Array.from({ length: 67 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let length = 0; length <= data.length; length++) {
      const slice = data.subarray(0, length);
      expect(crc32c(slice)).toBe(crc32cBitwise(slice));
    }
  });

  it('honours a subarray offset and continues from an initial value', () => {
    const whole = new TextEncoder().encode('xx123456789yy');
    const inner = whole.subarray(2, 11);
    expect(crc32c(inner)).toBe(0xe3069283);
    expect(crc32c(inner.subarray(4), crc32c(inner.subarray(0, 4)))).toBe(0xe3069283);
  });
});
