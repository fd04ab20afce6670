import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  FeatureDatabase,
  FeatureDatabaseError,
  loadFeatureDatabase,
  type Feature,
} from '../../src/routeguide/features';
import {
  boxFromCorners,
  haversineMetres,
  MAX_LATITUDE_E7,
  MAX_LONGITUDE_E7,
  validatePoint,
} from '../../src/routeguide/geo';
import type { Note } from '../../src/routeguide/notes';
import { MemoryNotesStore } from '../../src/stores/memory-notes';
import { RouteAccumulator } from '../../src/routeguide/route';
import { featuresInBox } from '../helpers/canonical';

const latitude = fc.integer({ min: -MAX_LATITUDE_E7, max: MAX_LATITUDE_E7 });
const longitude = fc.integer({ min: -MAX_LONGITUDE_E7, max: MAX_LONGITUDE_E7 });
const point = fc.record({ latitude, longitude });
const feature: fc.Arbitrary<Feature> = fc.record({
  name: fc.oneof(fc.constant(''), fc.string()),
  location: point,
});
// Clustered coordinates make duplicates and box hits likely.
const smallPoint = fc.record({
  latitude: fc.integer({ min: -50, max: 50 }),
  longitude: fc.integer({ min: -50, max: 50 }),
});

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-props-'));
let files = 0;
function writeTemp(text: string): string {
  const file = path.join(dir, `db-${files++}.json`);
  writeFileSync(file, text);
  return file;
}

describe('geo properties', () => {
  it('haversine is a metric bounded by half the circumference', () => {
    fc.assert(
      fc.property(point, point, point, (a, b, c) => {
        const ab = haversineMetres(a.latitude, a.longitude, b.latitude, b.longitude);
        const ba = haversineMetres(b.latitude, b.longitude, a.latitude, a.longitude);
        const bc = haversineMetres(b.latitude, b.longitude, c.latitude, c.longitude);
        const ac = haversineMetres(a.latitude, a.longitude, c.latitude, c.longitude);
        expect(Number.isFinite(ab)).toBe(true);
        expect(ab).toBeGreaterThanOrEqual(0);
        // Floating-point slack: haversine loses precision near antipodal points (sqrt(1 - h) as h → 1),
        // about 0.1 m on the earth's radius; half a metre is still below the API's resolution.
        expect(ab).toBeLessThanOrEqual(Math.PI * 6_371_000 + 0.5);
        expect(Math.abs(ab - ba)).toBeLessThan(1e-6);
        expect(ac).toBeLessThanOrEqual(ab + bc + 0.5);
      }),
      { numRuns: 2000 },
    );
  });

  it('validatePoint accepts exactly the in-range integers', () => {
    fc.assert(
      fc.property(
        fc.record({ latitude: fc.integer(), longitude: fc.integer() }),
        ({ latitude: lat, longitude: lng }) => {
          const valid = Math.abs(lat) <= MAX_LATITUDE_E7 && Math.abs(lng) <= MAX_LONGITUDE_E7;
          if (valid) expect(validatePoint({ latitude: lat, longitude: lng })).toBeDefined();
          else
            expect(() => validatePoint({ latitude: lat, longitude: lng })).toThrow(/out of range/);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a box from two corners contains both corners, whatever their order', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        const box = boxFromCorners(a, b);
        expect(box).toEqual(boxFromCorners(b, a));
        for (const p of [a, b]) {
          expect(p.latitude).toBeGreaterThanOrEqual(box.minLatitude);
          expect(p.latitude).toBeLessThanOrEqual(box.maxLatitude);
          expect(p.longitude).toBeGreaterThanOrEqual(box.minLongitude);
          expect(p.longitude).toBeLessThanOrEqual(box.maxLongitude);
        }
      }),
    );
  });

  it('route distance equals the leg sum truncated once, and counts are exact', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 50 }), (points) => {
        const route = new RouteAccumulator((p) => p.latitude % 2 === 0);
        points.forEach((p) => route.add(p));
        let sum = 0;
        for (let i = 1; i < points.length; i++) {
          const [p, q] = [points[i - 1]!, points[i]!];
          sum += haversineMetres(p.latitude, p.longitude, q.latitude, q.longitude);
        }
        const summary = route.summarize(0);
        expect(summary.pointCount).toBe(points.length);
        expect(summary.featureCount).toBe(points.filter((p) => p.latitude % 2 === 0).length);
        expect(summary.distanceMetres).toBe(Math.min(Math.trunc(sum), 2 ** 31 - 1));
      }),
    );
  });
});

describe('feature database properties', () => {
  it('lookups and box queries agree with a linear scan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.string(), location: smallPoint }), { maxLength: 300 }),
        fc.array(smallPoint, { minLength: 1, maxLength: 20 }),
        smallPoint,
        smallPoint,
        (features, probes, a, b) => {
          const db = FeatureDatabase.fromFeatures(features);
          for (const probe of probes) {
            const first = features.find(
              (f) =>
                f.location.latitude === probe.latitude && f.location.longitude === probe.longitude,
            );
            expect(db.find(probe)).toEqual(first);
          }
          const got = Array.from(db.indexesWithin(boxFromCorners(a, b)), (i) => db.featureAt(i));
          expect(got).toEqual(featuresInBox(features, a, b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('loads any valid file, in either form, exactly', () => {
    fc.assert(
      fc.property(fc.array(feature, { maxLength: 50 }), fc.boolean(), (features, wrapped) => {
        const file = writeTemp(JSON.stringify(wrapped ? { feature: features } : features));
        const db = loadFeatureDatabase(file);
        expect(Array.from({ length: db.size }, (_, i) => db.featureAt(i))).toEqual(features);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects any mutated file with a FeatureDatabaseError naming the file, never anything else', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('replace' as const),
        at: fc.nat(),
        char: fc.string({ minLength: 1, maxLength: 3 }),
      }),
      fc.record({
        kind: fc.constant('field' as const),
        value: fc.jsonValue(),
        key: fc.constantFrom('name', 'latitude', 'longitude', 'location'),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(feature, { minLength: 1, maxLength: 20 }),
        mutation,
        fc.nat(),
        (features, m, pick) => {
          let text: string;
          const target = pick % features.length;
          if (m.kind === 'field') {
            const entries: unknown[] = features.map((f) => ({ ...f, location: { ...f.location } }));
            const entry = entries[target] as Record<string, Record<string, unknown>>;
            if (m.key === 'latitude' || m.key === 'longitude') entry['location']![m.key] = m.value;
            else (entry as Record<string, unknown>)[m.key] = m.value;
            text = JSON.stringify(entries);
          } else {
            const original = JSON.stringify(features);
            const at = m.at % original.length;
            text =
              m.kind === 'truncate'
                ? original.slice(0, at)
                : original.slice(0, at) + m.char + original.slice(at + 1);
          }
          const file = writeTemp(text);
          let db: FeatureDatabase | undefined;
          try {
            db = loadFeatureDatabase(file);
          } catch (error) {
            expect(error).toBeInstanceOf(FeatureDatabaseError);
            expect((error as Error).message.startsWith(`features file ${file}: `)).toBe(true);
            return;
          }
          // The mutation happened to leave a valid file: every loaded entry must be valid.
          for (let i = 0; i < db.size; i++) {
            const f = db.featureAt(i);
            expect(typeof f.name).toBe('string');
            expect(Number.isInteger(f.location.latitude)).toBe(true);
            expect(Math.abs(f.location.latitude)).toBeLessThanOrEqual(MAX_LATITUDE_E7);
            expect(Math.abs(f.location.longitude)).toBeLessThanOrEqual(MAX_LONGITUDE_E7);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('notes store properties', () => {
  const note: fc.Arbitrary<Note> = fc.record({
    location: fc.record({
      latitude: fc.integer({ min: 0, max: 5 }),
      longitude: fc.integer({ min: 0, max: 2 }),
    }),
    message: fc.string({ maxLength: 20 }),
  });

  it('matches a reference model: replay order, caps, oldest-first eviction', () => {
    fc.assert(
      fc.property(
        fc.array(note, { maxLength: 300 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 200 }),
        (notes, maxPerLocation, maxTotal, maxTotalChars) => {
          const store = new MemoryNotesStore({ maxPerLocation, maxTotal, maxTotalChars });
          // Reference: one list of all live notes, oldest first.
          let model: Note[] = [];
          const key = (n: Note) => `${n.location.latitude},${n.location.longitude}`;
          for (const n of notes) {
            const expected = model.filter((m) => key(m) === key(n));
            expect(store.append(n)).toEqual(expected);
            model.push(n);
            const here = model.filter((m) => key(m) === key(n));
            if (here.length > maxPerLocation) model = model.filter((m) => m !== here[0]);
            const chars = () => model.reduce((s, m) => s + m.message.length, 0);
            while (model.length > maxTotal || (chars() > maxTotalChars && model.length > 1)) {
              model.shift();
            }
            expect(store.size).toBe(model.length);
            expect(store.size).toBeLessThanOrEqual(maxTotal);
          }
          for (const n of notes) {
            expect(store.at(n.location)).toEqual(model.filter((m) => key(m) === key(n)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches the reference model past every growth: thousands of locations, Unicode text', () => {
    // Past the store's initial capacities (1,024 records, 2,048 location slots, a 64 KiB
    // arena), so record growth, table rehashing, backward-shift deletion in long probe runs
    // and arena compaction all happen, with multi-byte UTF-8 messages.
    const big: fc.Arbitrary<Note> = fc.record({
      location: fc.record({
        latitude: fc.integer({ min: -1500, max: 1500 }),
        longitude: fc.constantFrom(0, 1, -900_000_000, 1_800_000_000),
      }),
      // Now and then one longer than the arena takes (256 UTF-16 units): kept as a string.
      message: fc.oneof(
        { weight: 20, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
        { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 200, maxLength: 400 }) },
      ),
    });
    fc.assert(
      fc.property(
        fc.array(big, { minLength: 3000, maxLength: 6000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1500, max: 4000 }),
        (notes, maxPerLocation, maxTotal) => {
          const store = new MemoryNotesStore({ maxPerLocation, maxTotal });
          const key = (n: Note) => `${n.location.latitude},${n.location.longitude}`;
          // Reference: notes per location, and every live note oldest first.
          const here = new Map<string, Note[]>();
          const order: Note[] = [];
          let live = 0;
          const dead = new Set<Note>();
          const evict = (n: Note): void => {
            const list = here.get(key(n))!;
            expect(list[0]).toBe(n);
            list.shift();
            if (list.length === 0) here.delete(key(n));
            dead.add(n);
            live--;
          };
          for (const n of notes) {
            expect(store.append(n)).toEqual(here.get(key(n)) ?? []);
            const list = here.get(key(n)) ?? [];
            list.push(n);
            here.set(key(n), list);
            order.push(n);
            live++;
            if (list.length > maxPerLocation) evict(list[0]!);
            while (live > maxTotal) {
              const oldest = order.shift()!;
              if (!dead.delete(oldest)) evict(oldest);
            }
            expect(store.size).toBe(live);
          }
          expect(store.locationCount).toBe(here.size);
          for (const n of notes) expect(store.at(n.location)).toEqual(here.get(key(n)) ?? []);
        },
      ),
      // No shrinking: thousands of notes shrink for minutes; the small property above shrinks well.
      { numRuns: 4, endOnFailure: true },
    );
  });
});
