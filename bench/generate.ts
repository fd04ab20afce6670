import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

/** The seed every benchmark database uses unless told otherwise, so runs are comparable. */
export const DEFAULT_SEED = 20_240_601;

/**
 * Locations sit on a 10⁻⁴° grid (a multiple of 1000 in E7 units), which makes uniqueness cheap to
 * check and gives misses for free: any point off the grid is in no generated database.
 */
export const GRID_E7 = 1000;
const LAT_STEPS = 900_000_000 / GRID_E7;
const LNG_STEPS = 1_800_000_000 / GRID_E7;

/** Share of features whose name is empty, like the canonical file's unnamed entries. */
export const UNNAMED_SHARE = 0.3;

export interface SyntheticFeature {
  name: string;
  location: { latitude: number; longitude: number };
}

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; plenty for synthetic data. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

const STREETS = [
  'Main Street',
  'Ridge Road',
  'Mill Lane',
  'Harbour View',
  'Cañada Alta',
  'Kő utca',
];

/**
 * Yields `count` features with unique grid locations spread uniformly over every valid
 * latitude and longitude, about 30% unnamed. Same count and seed → same features, same order.
 */
export function* generateFeatures(
  count: number,
  seed: number = DEFAULT_SEED,
): Generator<SyntheticFeature> {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  const random = createRandom(seed);
  const used = new Set<number>();
  for (let i = 0; i < count; i++) {
    let latStep: number;
    let lngStep: number;
    let key: number;
    do {
      latStep = randomInt(random, -LAT_STEPS, LAT_STEPS);
      lngStep = randomInt(random, -LNG_STEPS, LNG_STEPS);
      key = (latStep + LAT_STEPS) * (2 * LNG_STEPS + 1) + (lngStep + LNG_STEPS);
    } while (used.has(key));
    used.add(key);
    const named = random() >= UNNAMED_SHARE;
    const street = STREETS[randomInt(random, 0, STREETS.length - 1)]!;
    yield {
      name: named ? `${randomInt(random, 1, 9999)} ${street}, Synthetic ${i}` : '',
      location: { latitude: latStep * GRID_E7, longitude: lngStep * GRID_E7 },
    };
  }
}

/** A point that is certainly not in any generated database (it is off the location grid). */
export function missPoint(random: () => number): { latitude: number; longitude: number } {
  return {
    latitude: randomInt(random, -LAT_STEPS + 1, LAT_STEPS - 1) * GRID_E7 + GRID_E7 / 2,
    longitude: randomInt(random, -LNG_STEPS + 1, LNG_STEPS - 1) * GRID_E7 + GRID_E7 / 2,
  };
}

export interface WriteOptions {
  /** Wrap the array as `{"feature": [...]}` instead of a bare array. Default false. */
  wrapped?: boolean;
  /** Default DEFAULT_SEED. */
  seed?: number;
}

/**
 * Writes a generated database as JSON, one feature per line, in chunks so a million features
 * never sit in memory as one string. Writes to a temporary name first, so an interrupted run
 * never leaves a truncated file behind under the final name.
 */
export function writeFeatureFile(file: string, count: number, options: WriteOptions = {}): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  const fd = openSync(partial, 'w');
  try {
    writeSync(fd, options.wrapped ? '{"feature": [\n' : '[\n');
    let chunk: string[] = [];
    let i = 0;
    for (const feature of generateFeatures(count, options.seed)) {
      chunk.push((i++ === 0 ? '' : ',\n') + JSON.stringify(feature));
      if (chunk.length === 10_000) {
        writeSync(fd, chunk.join(''));
        chunk = [];
      }
    }
    writeSync(fd, `${chunk.join('')}\n]${options.wrapped ? '}' : ''}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(partial, file);
}
