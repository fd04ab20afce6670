import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  FeatureDatabase,
  FeatureDatabaseError,
  loadFeatureDatabase,
  parseFeatureEntry,
  type Feature,
} from '../../src/routeguide/features';
import { NameTableBuilder } from '../../src/routeguide/name-table';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-feature-json-'));
let fileCounter = 0;
function fileWith(text: string): string {
  const file = path.join(dir, `features-${fileCounter++}.json`);
  writeFileSync(file, text);
  return file;
}

function all(db: FeatureDatabase): Feature[] {
  return Array.from({ length: db.size }, (_, i) => db.featureAt(i));
}

/**
 * Validates parsed JSON as a feature list, entry by entry: either an array of features or
 * `{"feature": [...]}`.
 */
function parseFeatures(json: unknown, file: string): Feature[] {
  const entries =
    json !== null && typeof json === 'object' && !Array.isArray(json)
      ? (json as Record<string, unknown>)['feature']
      : json;
  if (!Array.isArray(entries)) {
    throw new FeatureDatabaseError(
      file,
      undefined,
      'expected a JSON array of features or an object with a "feature" array',
    );
  }
  return entries.map((entry, i) => parseFeatureEntry(entry, file, i));
}

/** The reference behaviour: JSON.parse of the whole file, then the validator. */
function oracle(text: string, file: string): Feature[] | 'invalid JSON' | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'invalid JSON';
  }
  try {
    // Through the database, as the loader's result is, so -0 reads back as 0 in both.
    return all(FeatureDatabase.fromFeatures(parseFeatures(json, file)));
  } catch (error) {
    return (error as Error).message;
  }
}

function load(text: string): { file: string; result: Feature[] | 'invalid JSON' | string } {
  const file = fileWith(text);
  try {
    return { file, result: all(loadFeatureDatabase(file)) };
  } catch (error) {
    expect(error).toBeInstanceOf(FeatureDatabaseError);
    const message = (error as Error).message;
    return { file, result: /is not valid JSON/.test(message) ? 'invalid JSON' : message };
  }
}

function expectSameAsOracle(text: string): void {
  const { file, result } = load(text);
  expect(result).toEqual(oracle(text, file));
}

describe('streaming feature loader', () => {
  it.each([
    ['keys in the other order', '[{"location":{"longitude":2,"latitude":1},"name":"A"}]'],
    [
      'extra keys',
      '[{"name":"A","id":7,"location":{"latitude":1,"longitude":2,"alt":[1,{"x":"]"}]}}]',
    ],
    [
      'escapes and unicode in names',
      JSON.stringify([{ name: 'a "q" \\ é 😀 \n', location: { latitude: 1, longitude: 2 } }]),
    ],
    ['raw non-ASCII names', '[{"name":"Kő utca, Cañada","location":{"latitude":1,"longitude":2}}]'],
    [
      'lots of whitespace',
      ' \n[ \t{ "name" : "A" ,\r\n "location" : { "latitude" : -0 , "longitude" : 2 } } ,\n{"name":"","location":{"latitude":3,"longitude":4}} ] \n',
    ],
    [
      'exponent and fraction-free floats',
      '[{"name":"A","location":{"latitude":1e3,"longitude":2.0}}]',
    ],
    ['a fraction', '[{"name":"A","location":{"latitude":1.5,"longitude":2}}]'],
    ['a leading zero', '[{"name":"A","location":{"latitude":01,"longitude":2}}]'],
    ['an 11-digit number', '[{"name":"A","location":{"latitude":1,"longitude":12345678901}}]'],
    ['a duplicate key', '[{"name":"A","name":"B","location":{"latitude":1,"longitude":2}}]'],
    ['a trailing comma', '[{"name":"A","location":{"latitude":1,"longitude":2}},]'],
    ['trailing data', '[] []'],
    ['a byte-order mark', '\uFEFF[]'],
    ['an empty file', ''],
    [
      'a raw control character in a name',
      '[{"name":"a\u0001b","location":{"latitude":1,"longitude":2}}]',
    ],
    ['an unterminated string', '[{"name":"A'],
    ['a mismatched bracket', '[{"name":"A","location":{"latitude":1,"longitude":2}]]'],
    [
      'the object form with other keys',
      '{"x":[1,2],"feature":[{"name":"A","location":{"latitude":1,"longitude":2}}],"y":{}}',
    ],
    ['the object form with a non-array feature', '{"feature":{"a":1}}'],
    [
      'a repeated feature key (the last wins)',
      '{"feature":[{"name":"A","location":{"latitude":1,"longitude":2}}],"feature":[]}',
    ],
    ['an empty object', '{}'],
    ['a string', '"[]"'],
    ['null', 'null'],
  ])('matches JSON.parse + validation for %s', (_what, text) => {
    expectSameAsOracle(text);
  });

  it('reads entries that straddle read chunks and names longer than the fast-path window', () => {
    const features: Feature[] = [];
    for (let i = 0; i < 30_000; i++) {
      features.push({
        name: i % 1000 === 7 ? 'x'.repeat(5000 + i) : i % 3 === 0 ? '' : `feature ${i}`,
        location: { latitude: i * 7 - 100_000, longitude: i * -13 || 0 },
      });
    }
    const text = JSON.stringify(features, null, 2);
    expect(text.length).toBeGreaterThan(2 * 1024 * 1024);
    const { result } = load(text);
    expect(result).toEqual(features);
  });

  it('names the entry of a bad value found by the fast path', () => {
    const good = '{"name":"A","location":{"latitude":1,"longitude":2}}';
    const { file, result } = load(
      `[${good},${good},{"name":"B","location":{"latitude":900000001,"longitude":2}}]`,
    );
    expect(result).toBe(
      `features file ${file}: entry 2: location.latitude must be an integer in [-900000000, 900000000], got 900000001`,
    );
  });

  it('reports where malformed JSON is', () => {
    const { file } = load('[]');
    writeFileSync(file, '[{"name":"A","location":{"latitude":1,"longitude":2}} x]');
    expect(() => loadFeatureDatabase(file)).toThrow(
      `features file ${file}: is not valid JSON (unexpected 'x' at byte 54)`,
    );
  });

  it('agrees with JSON.parse + validation on generated feature files', () => {
    const coordinate = fc.oneof(
      fc.integer({ min: -1_800_000_001, max: 1_800_000_001 }),
      fc.constantFrom(1.5, -0, 1e300, '7', null),
    );
    const entry = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          name: fc.string(),
          location: fc.record({ latitude: coordinate, longitude: coordinate }),
        }),
      },
      { weight: 1, arbitrary: fc.jsonValue() },
    );
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 20 }),
        fc.boolean(),
        fc.constantFrom(undefined, 1, '\t'),
        (entries, wrapped, indent) => {
          expectSameAsOracle(
            JSON.stringify(wrapped ? { feature: entries } : entries, null, indent),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('NameTable', () => {
  it('round-trips names, empty and non-ASCII ones included, in order', () => {
    const names = ['', 'a', 'Kő utca', '😀 "quoted"', '', 'x'.repeat(100_000)];
    const builder = new NameTableBuilder();
    for (const name of names) builder.add(name);
    builder.addBytes(Buffer.from('[raw bytes]'), 1, 10);
    const table = builder.build();
    expect(table.size).toBe(names.length + 1);
    expect(Array.from({ length: table.size }, (_, i) => table.get(i))).toEqual([
      ...names,
      'raw bytes',
    ]);
  });
});
