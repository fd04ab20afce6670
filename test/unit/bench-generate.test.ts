import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createRandom,
  generateFeatures,
  GRID_E7,
  missPoint,
  writeFeatureFile,
} from '../../bench/generate';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { isValidLatitude, isValidLongitude } from '../../src/routeguide/geo';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-bench-generate-'));

describe('benchmark database generator', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = [...generateFeatures(2000, 7)];
    expect([...generateFeatures(2000, 7)]).toEqual(a);
    expect([...generateFeatures(2000, 8)]).not.toEqual(a);
    // A shorter run is a prefix of a longer one, so sizes share their first features.
    expect([...generateFeatures(500, 7)]).toEqual(a.slice(0, 500));
  });

  it('gives unique, valid grid locations and leaves some features unnamed', () => {
    const features = [...generateFeatures(50_000)];
    const keys = new Set(features.map((f) => `${f.location.latitude},${f.location.longitude}`));
    expect(keys.size).toBe(features.length);
    for (const { location } of features) {
      expect(isValidLatitude(location.latitude) && isValidLongitude(location.longitude)).toBe(true);
      expect(location.latitude % GRID_E7 === 0 && location.longitude % GRID_E7 === 0).toBe(true);
    }
    const unnamed = features.filter((f) => f.name === '').length;
    expect(unnamed).toBeGreaterThan(features.length * 0.2);
    expect(unnamed).toBeLessThan(features.length * 0.4);
  });

  it('makes miss points that are off the grid and valid', () => {
    const random = createRandom(1);
    for (let i = 0; i < 1000; i++) {
      const p = missPoint(random);
      expect(isValidLatitude(p.latitude) && isValidLongitude(p.longitude)).toBe(true);
      expect(p.latitude % GRID_E7).not.toBe(0);
    }
  });

  it.each([false, true])('writes a file the server loads (wrapped: %s)', (wrapped) => {
    const file = path.join(dir, `db-${wrapped}.json`);
    writeFeatureFile(file, 3000, { seed: 3, wrapped });
    const db = loadFeatureDatabase(file);
    expect(Array.from({ length: db.size }, (_, i) => db.featureAt(i))).toEqual([
      ...generateFeatures(3000, 3),
    ]);
    expect(readFileSync(file, 'utf8').startsWith(wrapped ? '{"feature"' : '[')).toBe(true);
  });
});
