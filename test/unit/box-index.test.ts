import fc from 'fast-check';
import { BoxIndex, DEFAULT_BLOCK_SIZE, type BoxCursor } from '../../src/routeguide/box-index';
import { FeatureDatabase } from '../../src/routeguide/features';
import { boxFromCorners, type GeoBox, type GeoPoint } from '../../src/routeguide/geo';

function indexOf(
  points: readonly GeoPoint[],
  options: { blockSize?: number; blocksPerStep?: number },
) {
  return new BoxIndex(
    Int32Array.from(points, (p) => p.latitude),
    Int32Array.from(points, (p) => p.longitude),
    points.length,
    options,
  );
}

/** Everything a cursor yields, and how often it paused (returned -1 before it was done). */
function drain(cursor: BoxCursor): { indexes: number[]; pauses: number } {
  const indexes: number[] = [];
  let pauses = 0;
  for (;;) {
    const index = cursor.next();
    if (index >= 0) {
      indexes.push(index);
      continue;
    }
    if (cursor.done) break;
    pauses++;
  }
  // A finished cursor stays finished.
  expect(cursor.next()).toBe(-1);
  expect(cursor.done).toBe(true);
  return { indexes, pauses };
}

/** The oracle: a linear scan in database order. */
function bruteForce(points: readonly GeoPoint[], box: GeoBox): number[] {
  const found: number[] = [];
  points.forEach(({ latitude, longitude }, i) => {
    if (
      latitude >= box.minLatitude &&
      latitude <= box.maxLatitude &&
      longitude >= box.minLongitude &&
      longitude <= box.maxLongitude
    ) {
      found.push(i);
    }
  });
  return found;
}

const WORLD: GeoBox = {
  minLatitude: -900_000_000,
  maxLatitude: 900_000_000,
  minLongitude: -1_800_000_000,
  maxLongitude: 1_800_000_000,
};

// Clustered coordinates make duplicates, edge hits and whole-block hits likely.
const coordinate = fc.integer({ min: -40, max: 40 });
const smallPoint = fc.record({ latitude: coordinate, longitude: coordinate });

describe('BoxIndex cursor', () => {
  it('yields what a linear scan finds, in database order (random points, boxes, block sizes)', () => {
    fc.assert(
      fc.property(
        fc.array(smallPoint, { maxLength: 1500, size: 'max' }),
        // Sorted input gives blocks small bounding boxes: skipped blocks and whole-block runs.
        fc.constantFrom('random', 'by latitude', 'by longitude'),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.oneof(
            fc.tuple(smallPoint, smallPoint),
            // Degenerate boxes: a point, a row, a column.
            smallPoint.map((p) => [p, p] as const),
            fc
              .tuple(smallPoint, coordinate)
              .map(([p, lng]) => [p, { ...p, longitude: lng }] as const),
            fc
              .tuple(smallPoint, coordinate)
              .map(([p, lat]) => [p, { ...p, latitude: lat }] as const),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        (raw, order, blockSize, blocksPerStep, corners) => {
          const points =
            order === 'random'
              ? raw
              : [...raw].sort((a, b) =>
                  order === 'by latitude' ? a.latitude - b.latitude : a.longitude - b.longitude,
                );
          const index = indexOf(points, { blockSize, blocksPerStep });
          // Corners on existing points put feature locations exactly on the box's edges.
          const edgeCorners =
            points.length > 1 ? [[points[0]!, points[points.length - 1]!] as const] : [];
          for (const [a, b] of [...corners, ...edgeCorners]) {
            const box = boxFromCorners(a, b);
            expect(drain(index.cursor(box)).indexes).toEqual(bruteForce(points, box));
          }
          expect(drain(index.cursor(WORLD)).indexes).toEqual(points.map((_, i) => i));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is done at once on an empty database', () => {
    const cursor = indexOf([], {}).cursor(WORLD);
    expect(cursor.done).toBe(true);
    expect(cursor.next()).toBe(-1);
  });

  it('does nothing until asked', () => {
    const index = indexOf([{ latitude: 1, longitude: 1 }], {});
    const cursor = index.cursor(WORLD);
    expect(cursor.done).toBe(false);
    expect(cursor.next()).toBe(0);
    expect(cursor.next()).toBe(-1);
    expect(cursor.done).toBe(true);
  });

  it('answers from the whole tree up to a block of hits, and by blocks beyond', () => {
    const blockSize = 8;
    // 40 points on a diagonal, so a box [0, n - 1] holds exactly the first n.
    const points = Array.from({ length: 40 }, (_, i) => ({ latitude: i, longitude: i }));
    const index = indexOf(points, { blockSize });
    for (const n of [1, blockSize - 1, blockSize, blockSize + 1, 2 * blockSize + 3, 40]) {
      const box = boxFromCorners(
        { latitude: 0, longitude: 0 },
        { latitude: n - 1, longitude: n - 1 },
      );
      expect(drain(index.cursor(box)).indexes).toEqual(points.slice(0, n).map((_, i) => i));
    }
  });

  it('pauses after blocksPerStep blocks without a hit, so a caller can check on its call', () => {
    // 40 blocks of 4; only the last holds points inside the box, more of them than a block.
    const points = Array.from({ length: 160 }, (_, i) =>
      i < 156 ? { latitude: -1000 - i, longitude: 0 } : { latitude: i, longitude: 0 },
    );
    points.push(...Array.from({ length: 8 }, (_, i) => ({ latitude: 500 + i, longitude: 0 })));
    const index = indexOf(points, { blockSize: 4, blocksPerStep: 3 });
    const box = boxFromCorners({ latitude: 0, longitude: -1 }, { latitude: 1000, longitude: 1 });
    const { indexes, pauses } = drain(index.cursor(box));
    expect(indexes).toEqual(bruteForce(points, box));
    // 39 blocks below the box are examined 3 per step: 13 steps, then the hits.
    expect(pauses).toBe(13);
  });

  it('defaults to blocks of 4096 indexes (≤ 16 KiB of hits held per cursor)', () => {
    expect(DEFAULT_BLOCK_SIZE).toBe(4096);
    const index = indexOf([{ latitude: 0, longitude: 0 }], {});
    expect(index.blockSize).toBe(DEFAULT_BLOCK_SIZE);
  });
});

describe('FeatureDatabase box queries', () => {
  it('cursorWithin and indexesWithin agree with each other across blocks', () => {
    const features = Array.from({ length: 10_000 }, (_, i) => ({
      name: `f${i}`,
      location: { latitude: ((i * 7919) % 2001) - 1000, longitude: ((i * 104_729) % 2001) - 1000 },
    }));
    const db = FeatureDatabase.fromFeatures(features, { blockSize: 256, blocksPerStep: 2 });
    const box = { minLatitude: -500, maxLatitude: 700, minLongitude: -900, maxLongitude: 100 };
    const expected = bruteForce(
      features.map((f) => f.location),
      box,
    );
    expect(expected.length).toBeGreaterThan(256);
    expect(drain(db.cursorWithin(box)).indexes).toEqual(expected);
    expect(Array.from(db.indexesWithin(box))).toEqual(expected);
  });
});
