import { FeatureDatabase, type Feature } from '../../src/routeguide/features';

/**
 * Builds a database whose `featureAt` and `encodedAt` calls are counted: how many features a
 * handler has produced for writing, which shows whether a stream stopped or waited.
 */
export function countingDatabase(features: readonly Feature[]): {
  db: FeatureDatabase;
  produced: () => number;
} {
  const db = FeatureDatabase.fromFeatures(features);
  let produced = 0;
  const featureAt = db.featureAt.bind(db);
  db.featureAt = (index: number) => {
    produced++;
    return featureAt(index);
  };
  const encodedAt = db.encodedAt.bind(db);
  db.encodedAt = (index: number) => {
    produced++;
    return encodedAt(index);
  };
  return { db, produced: () => produced };
}

/** `count` features at latitude i (and longitude i when `diagonal`), named by `name`. */
export function syntheticFeatures(
  count: number,
  name: (i: number) => string = (i) => `feature ${i}`,
  diagonal = false,
): Feature[] {
  return Array.from({ length: count }, (_, i) => ({
    name: name(i),
    location: { latitude: i, longitude: diagonal ? i : 0 },
  }));
}
