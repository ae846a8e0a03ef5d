/**
 * CRC32C (Castagnoli), the checksum LevelDB, ext4 and iSCSI use: it catches
 * every burst error up to 32 bits and has better distance than CRC32 (IEEE) for
 * the record sizes a Raft log stores. Pure TypeScript, slicing-by-8: eight
 * tables let the loop consume eight bytes per step instead of one.
 */

/** The Castagnoli polynomial 0x1EDC6F41, bit-reversed for LSB-first processing. */
const polynomialReflected = 0x82f63b78;

/** Bytes consumed per step of the main loop; also the number of tables. */
const sliceBytes = 8;

const tables: readonly Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const result: Uint32Array[] = [];
  for (let t = 0; t < sliceBytes; t++) result.push(new Uint32Array(256));
  const base = result[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ polynomialReflected : c >>> 1;
    base[n] = c >>> 0;
  }
  // Table t advances a byte through t further zero bytes, so that eight bytes
  // can be folded in with eight independent lookups.
  for (let n = 0; n < 256; n++) {
    let c = base[n]!;
    for (let t = 1; t < sliceBytes; t++) {
      c = (c >>> 8) ^ base[c & 0xff]!;
      result[t]![n] = c >>> 0;
    }
  }
  return result;
}

const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/**
 * The CRC32C of `data`, as an unsigned 32-bit integer. Pass a previous result
 * as `initial` to continue a checksum over data that arrives in pieces:
 * `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)`.
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  let crc = ~initial >>> 0;
  let i = 0;
  const end8 = data.length - (data.length % sliceBytes);
  // Indexing a Uint8Array in bounds never yields undefined; the `!` only
  // satisfies noUncheckedIndexedAccess in this hot loop.
  while (i < end8) {
    const lo = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
    i += sliceBytes;
  }
  while (i < data.length) {
    crc = (crc >>> 8) ^ t0[(crc ^ data[i]!) & 0xff]!;
    i++;
  }
  return ~crc >>> 0;
}
