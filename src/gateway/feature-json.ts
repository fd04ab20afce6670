/**
 * `routeguide.Feature` protobuf bytes (as the database encodes them once at load) straight to
 * proto3 JSON text, without building a message object: the REST face streams ListFeatures as
 * JSON at a cost close to gRPC's, with no second, JSON, copy of the database.
 *
 *   message Point   { int32 latitude = 1; int32 longitude = 2; }
 *   message Feature { string name = 1; Point location = 2; }
 *
 * Unknown fields are skipped; a missing location is emitted as zeros (as the database never
 * omits it, and `GetFeature` of an unnamed point sends one too).
 */

/** Thrown for bytes that are not a well-formed Feature. */
export class FeatureDecodeError extends Error {
  constructor(message: string) {
    super(`malformed Feature bytes: ${message}`);
    this.name = 'FeatureDecodeError';
  }
}

/** A decoding position in a buffer. */
interface Reader {
  readonly bytes: Uint8Array;
  offset: number;
  readonly end: number;
}

function readVarint(r: Reader): number {
  // int32 values: the low 32 bits decide (a negative int32 is sign-extended to 10 bytes).
  let low = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (r.offset >= r.end) throw new FeatureDecodeError('truncated varint');
    const b = r.bytes[r.offset++]!;
    if (shift < 32) low |= (b & 0x7f) << shift;
    shift += 7;
    if (b < 0x80) return low | 0;
  }
  throw new FeatureDecodeError('varint too long');
}

function skipField(r: Reader, wireType: number): void {
  if (wireType === 0) readVarint(r);
  else if (wireType === 1) r.offset += 8;
  else if (wireType === 2) r.offset += readVarint(r) >>> 0;
  else if (wireType === 5) r.offset += 4;
  else throw new FeatureDecodeError(`wire type ${wireType}`);
  if (r.offset > r.end) throw new FeatureDecodeError('truncated field');
}

/** Reads a Point's latitude and longitude from `r` up to its end. */
function readPoint(r: Reader, point: { latitude: number; longitude: number }): void {
  while (r.offset < r.end) {
    const tag = readVarint(r);
    if (tag === 0x08) point.latitude = readVarint(r);
    else if (tag === 0x10) point.longitude = readVarint(r);
    else skipField(r, tag & 7);
  }
}

/** The proto3 JSON text of one encoded Feature: `{"name":…,"location":{…}}`. */
export function featureBytesToJson(bytes: Uint8Array): string {
  const r: Reader = { bytes, offset: 0, end: bytes.length };
  let name = '';
  const point = { latitude: 0, longitude: 0 };
  while (r.offset < r.end) {
    const tag = readVarint(r);
    if (tag === 0x0a || tag === 0x12) {
      const length = readVarint(r) >>> 0;
      const start = r.offset;
      const end = start + length;
      if (end > r.end) throw new FeatureDecodeError('truncated field');
      if (tag === 0x0a) {
        name = Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('utf8');
      } else {
        readPoint({ bytes, offset: start, end }, point);
      }
      r.offset = end;
    } else {
      skipField(r, tag & 7);
    }
  }
  return `{"name":${JSON.stringify(name)},"location":{"latitude":${point.latitude},"longitude":${point.longitude}}}`;
}
