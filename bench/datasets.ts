import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createRandom,
  DEFAULT_SEED,
  generateFeatures,
  missPoint,
  writeFeatureFile,
} from './generate';
import { repoRoot } from './paths';
import type { Box, Point } from './protocol';

/** Bump when the generator's output changes, so cached files are not reused. */
const GENERATOR_VERSION = 1;
const SAMPLE = 2000;
/** Half the side of the "small box" (1° × 1°), in E7 units. */
const HALF_DEGREE = 5_000_000;

/** A feature database and the request inputs drawn from it. */
export interface Dataset {
  label: string;
  size: number;
  file: string;
  /** Locations of features in the database. */
  hits: Point[];
  /** Locations certainly not in the database. */
  misses: Point[];
  /** 1° × 1° boxes centred on features. */
  boxes: Box[];
  /** The whole coordinate space. */
  world: Box;
  /** 1000-point routes, half the points on features. */
  routes: Point[][];
}

const clamp = (v: number, limit: number): number => Math.max(-limit, Math.min(limit, v));

function build(label: string, size: number, file: string, hits: Point[], misses: Point[]): Dataset {
  const random = createRandom(DEFAULT_SEED + 1);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const boxes = hits.map(({ latitude, longitude }) => ({
    lo: {
      latitude: clamp(latitude - HALF_DEGREE, 900_000_000),
      longitude: clamp(longitude - HALF_DEGREE, 1_800_000_000),
    },
    hi: {
      latitude: clamp(latitude + HALF_DEGREE, 900_000_000),
      longitude: clamp(longitude + HALF_DEGREE, 1_800_000_000),
    },
  }));
  const routes = Array.from({ length: 20 }, () =>
    Array.from({ length: 1000 }, () => (random() < 0.5 ? pick(hits) : pick(misses))),
  );
  return {
    label,
    size,
    file,
    hits,
    misses,
    boxes,
    world: {
      lo: { latitude: -900_000_000, longitude: -1_800_000_000 },
      hi: { latitude: 900_000_000, longitude: 1_800_000_000 },
    },
    routes,
  };
}

/** The canonical 100-feature file shipped with the service. */
export function canonicalDataset(): Dataset {
  const file = path.join(repoRoot(), 'data', 'route_guide_db.json');
  const features = JSON.parse(readFileSync(file, 'utf8')) as { location: Point }[];
  const hits = features.map((f) => f.location);
  const taken = new Set(hits.map((p) => `${p.latitude},${p.longitude}`));
  const misses = hits
    .map((p) => ({ latitude: p.latitude + 1, longitude: p.longitude }))
    .filter((p) => !taken.has(`${p.latitude},${p.longitude}`));
  return build('100 (canonical)', features.length, file, hits, misses);
}

/**
 * A generated database of `size` features, written once to the temp directory and reused
 * (the file name carries size, seed and generator version).
 */
export function syntheticDataset(
  size: number,
  seed = DEFAULT_SEED,
  dir = path.join(tmpdir(), 'routeguide-bench'),
): Dataset {
  const file = path.join(dir, `features-${size}-seed${seed}-v${GENERATOR_VERSION}.json`);
  if (!existsSync(file)) writeFeatureFile(file, size, { seed });
  // Every step-th feature, so samples are spread over the whole file.
  const step = Math.max(1, Math.floor(size / SAMPLE));
  const hits: Point[] = [];
  let i = 0;
  for (const feature of generateFeatures(size, seed)) {
    if (i++ % step === 0 && hits.length < SAMPLE) hits.push(feature.location);
  }
  const random = createRandom(seed + 2);
  const misses = Array.from({ length: SAMPLE }, () => missPoint(random));
  return build(size.toLocaleString('en-US'), size, file, hits, misses);
}
