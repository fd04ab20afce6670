import { isUtf8 } from 'node:buffer';
import { NameTableBuilder, type NameTable } from './name-table';

/**
 * The Protocol Buffers wire encoding of `routeguide.Feature` (route_guide.proto), by hand, so
 * features can be encoded once when the database loads and then sent as bytes:
 *
 *   message Point   { int32 latitude = 1; int32 longitude = 2; }
 *   message Feature { string name = 1; Point location = 2; }
 *
 * Canonical proto3 output, as the C++, Go and Java encoders produce: fields equal to their
 * default (empty name, zero coordinate) are omitted; `location` is always present; a negative
 * int32 is a 10-byte varint (sign-extended to 64 bits). No gRPC here: only bytes.
 */

const NAME_TAG = 0x0a; // field 1, length-delimited
const LOCATION_TAG = 0x12; // field 2, length-delimited
const LATITUDE_TAG = 0x08; // field 1, varint
const LONGITUDE_TAG = 0x10; // field 2, varint

/** Bytes of an int32 as a varint (negative values take 10). */
function int32Size(value: number): number {
  if (value < 0) return 10;
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Bytes of a non-negative length as a varint. */
function lengthSize(length: number): number {
  return length < 0x80 ? 1 : int32Size(length);
}

function writeInt32(target: Buffer, offset: number, value: number): number {
  if (value >= 0) {
    while (value >= 0x80) {
      target[offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    target[offset++] = value;
    return offset;
  }
  // Two's complement over 64 bits: the low 32 bits, then all ones, then bit 63.
  const low = value >>> 0;
  target[offset++] = (low & 0x7f) | 0x80;
  target[offset++] = ((low >>> 7) & 0x7f) | 0x80;
  target[offset++] = ((low >>> 14) & 0x7f) | 0x80;
  target[offset++] = ((low >>> 21) & 0x7f) | 0x80;
  target[offset++] = (low >>> 28) | 0x70 | 0x80;
  target[offset++] = 0xff;
  target[offset++] = 0xff;
  target[offset++] = 0xff;
  target[offset++] = 0xff;
  target[offset++] = 0x01;
  return offset;
}

function pointSize(latitude: number, longitude: number): number {
  return (
    (latitude === 0 ? 0 : 1 + int32Size(latitude)) +
    (longitude === 0 ? 0 : 1 + int32Size(longitude))
  );
}

/** Encoded size of a feature whose name is `nameBytes` bytes of UTF-8. */
function featureSize(nameBytes: number, latitude: number, longitude: number): number {
  const point = pointSize(latitude, longitude);
  return (nameBytes === 0 ? 0 : 1 + lengthSize(nameBytes) + nameBytes) + 2 + point;
}

/**
 * Writes a feature at `offset`; the name is `nameSource[nameStart, nameEnd)` (valid UTF-8).
 * Returns the offset after it.
 */
function writeFeature(
  target: Buffer,
  offset: number,
  nameSource: Buffer,
  nameStart: number,
  nameEnd: number,
  latitude: number,
  longitude: number,
): number {
  const nameBytes = nameEnd - nameStart;
  if (nameBytes > 0) {
    target[offset++] = NAME_TAG;
    offset = writeInt32(target, offset, nameBytes);
    if (nameBytes < 64) {
      // Short names (nearly all): a byte loop beats a native copy call.
      for (let i = nameStart; i < nameEnd; i++) target[offset++] = nameSource[i]!;
    } else {
      offset += nameSource.copy(target, offset, nameStart, nameEnd);
    }
  }
  target[offset++] = LOCATION_TAG;
  target[offset++] = pointSize(latitude, longitude); // at most 22: one byte
  if (latitude !== 0) {
    target[offset++] = LATITUDE_TAG;
    offset = writeInt32(target, offset, latitude);
  }
  if (longitude !== 0) {
    target[offset++] = LONGITUDE_TAG;
    offset = writeInt32(target, offset, longitude);
  }
  return offset;
}

const NO_NAME = Buffer.alloc(0);

/** One feature with this name and location, encoded. */
export function encodeFeature(name: string, latitude: number, longitude: number): Buffer {
  const nameBuffer = name === '' ? NO_NAME : Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(featureSize(nameBuffer.length, latitude, longitude));
  writeFeature(out, 0, nameBuffer, 0, nameBuffer.length, latitude, longitude);
  return out;
}

/**
 * Every feature of a database, encoded once: one buffer and an offsets array (feature i is
 * `bytes[offsets[i], offsets[i + 1])`), about 40 bytes a feature.
 */
export class EncodedFeatures {
  private constructor(
    private readonly bytes: Buffer,
    private readonly offsets: Uint32Array,
  ) {}

  /** Encodes the features in database order from the database's columns. */
  static encode(latitudes: Int32Array, longitudes: Int32Array, names: NameTable): EncodedFeatures {
    const count = names.size;
    const offsets = new Uint32Array(count + 1);
    // Names read by the file's fast path are raw bytes: sent as they are when they are valid
    // UTF-8 (what protobuf requires of a string), else every name is re-encoded from its
    // decoded string (invalid sequences become U+FFFD, as decoding to a JS string gives).
    let raw = names.rawBytes();
    let reencoded: NameTableBuilder | undefined;
    if (!isUtf8(raw.bytes)) {
      reencoded = new NameTableBuilder();
      for (let i = 0; i < count; i++) reencoded.add(names.get(i));
      raw = reencoded.build(false).rawBytes();
    }
    const nameBytes = raw.bytes;
    const nameOffsets = raw.offsets;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const length = nameOffsets[i + 1]! - nameOffsets[i]!;
      total += featureSize(length, latitudes[i]!, longitudes[i]!);
    }
    const bytes = Buffer.allocUnsafeSlow(total);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      offsets[i] = offset;
      offset = writeFeature(
        bytes,
        offset,
        nameBytes,
        nameOffsets[i]!,
        nameOffsets[i + 1]!,
        latitudes[i]!,
        longitudes[i]!,
      );
    }
    offsets[count] = offset;
    reencoded?.release();
    return new EncodedFeatures(bytes, offsets);
  }

  /** Number of features. */
  get size(): number {
    return this.offsets.length - 1;
  }

  /** Encoded bytes of feature `index` (a view, not a copy). */
  at(index: number): Buffer {
    return this.bytes.subarray(this.offsets[index]!, this.offsets[index + 1]!);
  }

  /**
   * The name of feature `index`, decoded from its encoding ('' for unnamed features): the
   * encoded names are the only copy the database keeps. They are the names as loaded when
   * those were valid UTF-8, else re-encoded from their decoded strings, so this decodes to
   * exactly what decoding the loaded bytes gives.
   */
  nameAt(index: number): string {
    const bytes = this.bytes;
    let offset = this.offsets[index]!;
    if (bytes[offset] !== NAME_TAG) return '';
    offset++;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[offset++]!;
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    return bytes.toString('utf8', offset, offset + length);
  }
}
