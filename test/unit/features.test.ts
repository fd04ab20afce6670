import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  FeatureDatabase,
  FeatureDatabaseError,
  loadFeatureDatabase,
} from '../../src/routeguide/features';
import { CANONICAL_FILE, canonicalFeatures, featuresInBox } from '../helpers/canonical';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-features-'));
let fileCounter = 0;
function fileWith(text: string): string {
  const file = path.join(dir, `features-${fileCounter++}.json`);
  writeFileSync(file, text);
  return file;
}

const good = { name: 'A', location: { latitude: 1, longitude: 2 } };

describe('loadFeatureDatabase', () => {
  it('loads the canonical file: 100 features, 36 unnamed', () => {
    const db = loadFeatureDatabase(CANONICAL_FILE);
    expect(db.size).toBe(100);
    const all = Array.from({ length: db.size }, (_, i) => db.featureAt(i));
    expect(all.filter((f) => f.name === '')).toHaveLength(36);
    expect(all).toEqual(canonicalFeatures());
  });

  it('accepts the {"feature": [...]} form', () => {
    const db = loadFeatureDatabase(fileWith(JSON.stringify({ feature: [good, good] })));
    expect(db.size).toBe(2);
    expect(db.featureAt(1)).toEqual(good);
  });

  it('accepts an empty database', () => {
    const db = loadFeatureDatabase(fileWith('[]'));
    expect(db.size).toBe(0);
    expect(db.find({ latitude: 1, longitude: 2 })).toBeUndefined();
    expect(
      db.indexesWithin({ minLatitude: -1, maxLatitude: 1, minLongitude: -1, maxLongitude: 1 }),
    ).toHaveLength(0);
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', '[{', /is not valid JSON/],
    ['a scalar', '42', /expected a JSON array of features/],
    ['an object without "feature"', '{"features": []}', /expected a JSON array of features/],
    ['a non-object entry', JSON.stringify([good, 7]), /entry 1: expected an object, got 7/],
    ['a null entry', JSON.stringify([null]), /entry 0: expected an object, got null/],
    [
      'a missing name',
      JSON.stringify([good, good, { location: good.location }]),
      /entry 2: name must be a string, got nothing/,
    ],
    ['a numeric name', JSON.stringify([{ ...good, name: 5 }]), /entry 0: name must be a string/],
    ['a missing location', JSON.stringify([{ name: 'x' }]), /entry 0: location must be an object/],
    [
      'a string latitude',
      JSON.stringify([{ name: 'x', location: { latitude: '1', longitude: 2 } }]),
      /entry 0: location.latitude must be an integer in \[-900000000, 900000000\], got "1"/,
    ],
    [
      'a fractional latitude',
      JSON.stringify([good, { name: 'x', location: { latitude: 1.5, longitude: 2 } }]),
      /entry 1: location.latitude must be an integer/,
    ],
    [
      'a latitude out of range',
      JSON.stringify([{ name: 'x', location: { latitude: 900000001, longitude: 2 } }]),
      /entry 0: location.latitude .* got 900000001/,
    ],
    [
      'a longitude out of range',
      JSON.stringify([{ name: 'x', location: { latitude: 0, longitude: -1800000001 } }]),
      /entry 0: location.longitude must be an integer in \[-1800000000, 1800000000\], got -1800000001/,
    ],
    [
      'a missing longitude',
      JSON.stringify([{ name: 'x', location: { latitude: 0 } }]),
      /entry 0: location.longitude .* got nothing/,
    ],
  ];

  it.each(bad)('rejects %s, naming the file and entry', (_what, text, message) => {
    const file = fileWith(text);
    let caught: unknown;
    try {
      loadFeatureDatabase(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FeatureDatabaseError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message.startsWith(`features file ${file}: `)).toBe(true);
  });

  it('rejects a missing file', () => {
    const file = path.join(dir, 'does-not-exist.json');
    expect(() => loadFeatureDatabase(file)).toThrow(
      `features file ${file}: cannot be read (ENOENT)`,
    );
  });

  it('rejects a directory', () => {
    expect(() => loadFeatureDatabase(dir)).toThrow(/cannot be read \(EISDIR\)/);
  });
});

describe('FeatureDatabase lookups', () => {
  const features = canonicalFeatures();
  const db = FeatureDatabase.fromFeatures(features);

  it('finds every canonical feature by its exact location, named or not', () => {
    for (const feature of features) expect(db.find(feature.location)).toEqual(feature);
  });

  it('misses points that are not feature locations', () => {
    for (const feature of features) {
      const { latitude, longitude } = feature.location;
      expect(db.find({ latitude: latitude + 1, longitude })).toBeUndefined();
      expect(db.has({ latitude, longitude: longitude - 1 })).toBe(false);
    }
  });

  it('answers a duplicate location with the first entry', () => {
    const dup = FeatureDatabase.fromFeatures([
      { name: 'first', location: { latitude: 5, longitude: 5 } },
      { name: 'second', location: { latitude: 5, longitude: 5 } },
    ]);
    expect(dup.find({ latitude: 5, longitude: 5 })?.name).toBe('first');
    expect(dup.size).toBe(2);
  });

  it('returns box contents in database order, bounds inclusive, matching a linear scan', () => {
    const boxes = [
      [
        { latitude: 400_000_000, longitude: -750_000_000 },
        { latitude: 420_000_000, longitude: -730_000_000 },
      ],
      [
        { latitude: 410_000_000, longitude: -740_000_000 },
        { latitude: 405_000_000, longitude: -745_000_000 },
      ],
      // A degenerate box exactly on one feature's location: inclusive bounds must find it.
      [features[7]!.location, features[7]!.location],
      // Edges exactly on two features.
      [features[0]!.location, features[1]!.location],
    ] as const;
    for (const [a, b] of boxes) {
      const got = Array.from(
        db.indexesWithin({
          minLatitude: Math.min(a.latitude, b.latitude),
          maxLatitude: Math.max(a.latitude, b.latitude),
          minLongitude: Math.min(a.longitude, b.longitude),
          maxLongitude: Math.max(a.longitude, b.longitude),
        }),
        (i) => db.featureAt(i),
      );
      expect(got).toEqual(featuresInBox(features, a, b));
    }
  });

  it('finds all 100 in the documented box', () => {
    expect(
      db.indexesWithin({
        minLatitude: 400_000_000,
        maxLatitude: 420_000_000,
        minLongitude: -750_000_000,
        maxLongitude: -730_000_000,
      }),
    ).toEqual(Uint32Array.from({ length: 100 }, (_, i) => i));
  });

  it('stays exact on a large random database (hash collisions, deep tree)', () => {
    let seed = 42;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      name: i % 3 === 0 ? '' : `f${i}`,
      location: {
        latitude: Math.round((random() * 2 - 1) * 1_000_000),
        longitude: Math.round((random() * 2 - 1) * 1_000_000),
      },
    }));
    const big = FeatureDatabase.fromFeatures(many);
    const firstAt = new Map<string, number>();
    many.forEach((f, i) => {
      const key = `${f.location.latitude},${f.location.longitude}`;
      if (!firstAt.has(key)) firstAt.set(key, i);
    });
    for (const [key, index] of firstAt) {
      const [latitude, longitude] = key.split(',').map(Number) as [number, number];
      expect(big.indexOf(latitude, longitude)).toBe(index);
    }
    const a = { latitude: -200_000, longitude: -300_000 };
    const b = { latitude: 250_000, longitude: 100_000 };
    const got = Array.from(
      big.indexesWithin({
        minLatitude: -200_000,
        maxLatitude: 250_000,
        minLongitude: -300_000,
        maxLongitude: 100_000,
      }),
      (i) => big.featureAt(i),
    );
    expect(got).toEqual(featuresInBox(many, a, b));
  });
});
