import fc from 'fast-check';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { FeatureDatabase, loadFeatureDatabase } from '../../src/routeguide/features';
import { encodeFeature } from '../../src/routeguide/feature-wire';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const { GetFeature } = loadRouteGuideProto().proto.routeguide.RouteGuide.service;
const decode = (bytes: Buffer): unknown => GetFeature.responseDeserialize(bytes);
const encodeWithProtobufjs = (feature: unknown): Buffer =>
  Buffer.from(GetFeature.responseSerialize(feature as never));

const latitude = fc.integer({ min: -900_000_000, max: 900_000_000 });
const longitude = fc.integer({ min: -1_800_000_000, max: 1_800_000_000 });
const edgeCoordinate = fc.constantFrom(0, 1, -1, 127, 128, -128, 16383, 16384, 2 ** 28, -(2 ** 28));
const feature = fc.record({
  name: fc.oneof(fc.constant(''), fc.string(), fc.string({ unit: 'binary', maxLength: 300 })),
  location: fc.record({
    latitude: fc.oneof(latitude, edgeCoordinate),
    longitude: fc.oneof(longitude, edgeCoordinate),
  }),
});

describe('Feature wire encoding', () => {
  it('decodes (with protobufjs) to exactly the feature, for any name and coordinates', () => {
    fc.assert(
      fc.property(fc.array(feature, { maxLength: 20 }), (features) => {
        const db = FeatureDatabase.fromFeatures(features);
        features.forEach((f, i) => {
          // What the service sends today equals what protobufjs would have decoded from its own encoding.
          const expected = decode(encodeWithProtobufjs(f));
          expect(decode(db.encodedAt(i))).toEqual(expected);
          expect(decode(encodeFeature(f.name, f.location.latitude, f.location.longitude))).toEqual(
            expected,
          );
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps names only in the encoding: featureAt reads back every name, long ones too', () => {
    fc.assert(
      fc.property(fc.array(feature, { maxLength: 20 }), (features) => {
        const db = FeatureDatabase.fromFeatures(features);
        features.forEach((f, i) => expect(db.featureAt(i)).toEqual(f));
      }),
      { numRuns: 300 },
    );
    // Names of 128 bytes and more take a varint length of two bytes (or three, 16 KiB up).
    for (const length of [127, 128, 300, 16_384]) {
      const name = 'é'.repeat(length);
      const db = FeatureDatabase.fromFeatures([{ name, location: { latitude: 1, longitude: 2 } }]);
      expect(db.featureAt(0).name).toBe(name);
    }
  });

  it('is canonical proto3: defaults omitted, negative int32 as 10-byte varints', () => {
    expect(encodeFeature('', 0, 0).toString('hex')).toBe('1200');
    expect(encodeFeature('a', 1, 300).toString('hex')).toBe('0a0161' + '1205' + '0801' + '10ac02');
    expect(encodeFeature('', -1, 0).toString('hex')).toBe('120b' + '08ffffffffffffffffff01');
  });

  it('sends names that are not valid UTF-8 in the file as the decoded string (U+FFFD)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'feature-wire-'));
    try {
      const file = path.join(dir, 'bad-utf8.json');
      writeFileSync(
        file,
        Buffer.concat([
          Buffer.from(
            '[{"name":"ok \u00e9","location":{"latitude":1,"longitude":2}},{"name":"bad ',
          ),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('","location":{"latitude":3,"longitude":4}}]'),
        ]),
      );
      const db = loadFeatureDatabase(file);
      expect(decode(db.encodedAt(0))).toEqual({
        name: 'ok é',
        location: { latitude: 1, longitude: 2 },
      });
      expect(decode(db.encodedAt(1))).toEqual({
        name: db.featureAt(1).name,
        location: { latitude: 3, longitude: 4 },
      });
      expect(db.featureAt(1).name).toContain('\ufffd');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
