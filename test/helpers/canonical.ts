import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The canonical feature file, read directly so tests compute expectations independently. */
export const CANONICAL_FILE = path.resolve(__dirname, '..', '..', 'data', 'route_guide_db.json');

export interface RawFeature {
  name: string;
  location: { latitude: number; longitude: number };
}

export function canonicalFeatures(): RawFeature[] {
  return JSON.parse(readFileSync(CANONICAL_FILE, 'utf8')) as RawFeature[];
}

/** Brute-force oracle for ListFeatures: a linear scan in file order. */
export function featuresInBox(
  features: RawFeature[],
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
): RawFeature[] {
  const [loLat, hiLat] = [Math.min(a.latitude, b.latitude), Math.max(a.latitude, b.latitude)];
  const [loLng, hiLng] = [Math.min(a.longitude, b.longitude), Math.max(a.longitude, b.longitude)];
  return features.filter(
    ({ location: { latitude, longitude } }) =>
      latitude >= loLat && latitude <= hiLat && longitude >= loLng && longitude <= hiLng,
  );
}
