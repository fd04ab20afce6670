/**
 * Geographic arithmetic on E7 coordinates (degrees × 10^7), free of any gRPC types.
 */

/** E7 units per degree. */
export const COORD_FACTOR = 1e7;

/** Mean earth radius in metres, as the reference RouteGuide implementations use. */
export const EARTH_RADIUS_M = 6_371_000;

export const MAX_LATITUDE_E7 = 900_000_000;
export const MAX_LONGITUDE_E7 = 1_800_000_000;

/** A position in E7 units. */
export interface GeoPoint {
  readonly latitude: number;
  readonly longitude: number;
}

/** An inclusive latitude/longitude box with ordered bounds. */
export interface GeoBox {
  readonly minLatitude: number;
  readonly maxLatitude: number;
  readonly minLongitude: number;
  readonly maxLongitude: number;
}

/** Thrown by domain code for input a caller got wrong; `field` names the offending field. */
export class InvalidInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

function toRadians(e7: number): number {
  return ((e7 / COORD_FACTOR) * Math.PI) / 180;
}

/** Great-circle distance in metres (unrounded) between two E7 points by the haversine formula. */
export function haversineMetres(
  aLatitude: number,
  aLongitude: number,
  bLatitude: number,
  bLongitude: number,
): number {
  const phi1 = toRadians(aLatitude);
  const phi2 = toRadians(bLatitude);
  const deltaPhi = phi2 - phi1;
  const deltaLambda = toRadians(bLongitude) - toRadians(aLongitude);
  const h =
    Math.sin(deltaPhi / 2) ** 2 + Math.cos(phi1) * Math.cos(phi2) * Math.sin(deltaLambda / 2) ** 2;
  return EARTH_RADIUS_M * 2 * Math.atan2(Math.sqrt(h), Math.sqrt(1 - h));
}

/**
 * Mixes a pair of int32 coordinates into a well-spread 32-bit hash (murmur3's finaliser), for
 * the open-addressing tables of the feature database and the notes store.
 */
export function hashPoint(latitude: number, longitude: number): number {
  let h = Math.imul(latitude, 0x9e3779b1) ^ Math.imul(longitude ^ 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True when the coordinate is an integer inside the valid E7 latitude range. */
export function isValidLatitude(value: unknown): value is number {
  return Number.isInteger(value) && Math.abs(value as number) <= MAX_LATITUDE_E7;
}

/** True when the coordinate is an integer inside the valid E7 longitude range. */
export function isValidLongitude(value: unknown): value is number {
  return Number.isInteger(value) && Math.abs(value as number) <= MAX_LONGITUDE_E7;
}

/** True when the point is present with valid coordinates (what {@link validatePoint} accepts). */
export function isValidPoint(point: GeoPoint | null | undefined): point is GeoPoint {
  return point != null && isValidLatitude(point.latitude) && isValidLongitude(point.longitude);
}

/**
 * Checks a point that arrived from a caller. `path` names the point in the request, e.g. `lo`
 * or `location` (empty when the point is the request itself), so the message tells the
 * caller exactly which value was wrong.
 */
export function validatePoint(point: GeoPoint | null | undefined, path = ''): GeoPoint {
  const field = (name: string): string => (path === '' ? name : `${path}.${name}`);
  if (point == null) {
    throw new InvalidInputError(path, `${path} is required`);
  }
  if (!isValidLatitude(point.latitude)) {
    throw new InvalidInputError(
      field('latitude'),
      `${field('latitude')} ${String(point.latitude)} is out of range [-${MAX_LATITUDE_E7}, ${MAX_LATITUDE_E7}]`,
    );
  }
  if (!isValidLongitude(point.longitude)) {
    throw new InvalidInputError(
      field('longitude'),
      `${field('longitude')} ${String(point.longitude)} is out of range [-${MAX_LONGITUDE_E7}, ${MAX_LONGITUDE_E7}]`,
    );
  }
  return point;
}

/** Orders two validated corners, given in any order, into an inclusive box. */
export function boxFromCorners(a: GeoPoint, b: GeoPoint): GeoBox {
  return {
    minLatitude: Math.min(a.latitude, b.latitude),
    maxLatitude: Math.max(a.latitude, b.latitude),
    minLongitude: Math.min(a.longitude, b.longitude),
    maxLongitude: Math.max(a.longitude, b.longitude),
  };
}
