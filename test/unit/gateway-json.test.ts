import { status as Status } from '@grpc/grpc-js';
import { featureBytesToJson, FeatureDecodeError } from '../../src/gateway/feature-json';
import { GatewayError } from '../../src/gateway/http-status';
import { MessageJson } from '../../src/gateway/message-json';
import { MessageSplitter } from '../../src/gateway/message-splitter';
import { requestDeadline } from '../../src/gateway/request-metadata';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { encodeFeature } from '../../src/routeguide/feature-wire';

describe('featureBytesToJson', () => {
  it.each([
    ['Berkshire Valley, NJ', 409146138, -746188906],
    ['', 0, 0],
    ['', -1, 1],
    ['quote " backslash \\ newline \n é 日本', -900000000, 1800000000],
    ['x'.repeat(300), 2147483647, -2147483648],
  ])('decodes %j at (%d, %d) as proto3 JSON', (name, latitude, longitude) => {
    const json = featureBytesToJson(encodeFeature(name, latitude, longitude));
    expect(JSON.parse(json)).toEqual({ name, location: { latitude, longitude } });
  });

  it('matches protobufjs on the same bytes and skips unknown fields', () => {
    const { packageDefinition } = loadRouteGuideProto();
    const type = packageDefinition['routeguide.RouteGuide'] as unknown as Record<
      string,
      { responseDeserialize: (b: Buffer) => unknown }
    >;
    const bytes = encodeFeature('a b', 407838351, -746143763);
    expect(JSON.parse(featureBytesToJson(bytes))).toEqual(
      type['GetFeature']!.responseDeserialize(bytes),
    );
    // Field 3 (varint 5) and field 4 (fixed32) appended: ignored.
    const extended = Buffer.concat([bytes, Buffer.from([0x18, 0x05, 0x25, 1, 2, 3, 4])]);
    expect(JSON.parse(featureBytesToJson(extended))).toEqual(JSON.parse(featureBytesToJson(bytes)));
  });

  it('throws on truncated bytes', () => {
    const bytes = encodeFeature('name', 1, 2);
    expect(() => featureBytesToJson(bytes.subarray(0, bytes.length - 1))).toThrow(
      FeatureDecodeError,
    );
  });
});

describe('MessageJson', () => {
  const json = new MessageJson(loadRouteGuideProto().packageDefinition);

  it('reads both spellings, numbers or strings for int32, ignores unknown fields', () => {
    expect(
      json.fromJson('routeguide.RouteSummary', {
        point_count: 1,
        featureCount: '2',
        elapsedTime: -3,
        unknown: { x: 1 },
      }),
    ).toEqual({ point_count: 1, feature_count: 2, distance: 0, elapsed_time: -3 });
    expect(json.fromJson('routeguide.RouteNote', { location: null })).toEqual({
      location: null,
      message: '',
    });
  });

  it('names the field of a bad value', () => {
    const bad = (value: unknown): unknown =>
      json.fromJson('routeguide.Rectangle', { lo: { latitude: value } });
    for (const value of [1.5, '1e3', true, 2 ** 31, 'north']) {
      expect(() => bad(value)).toThrow(GatewayError);
      expect(() => bad(value)).toThrow(/^lo\.latitude: must be an int32/);
    }
    expect(() => json.fromJson('routeguide.Rectangle', [])).toThrow(/body: must be a JSON object/);
  });

  it('sets fields from path and query text by field path', () => {
    const rect = json.empty('routeguide.Rectangle');
    json.setFromText('routeguide.Rectangle', rect, ['lo', 'latitude'], '-5');
    json.setFromText('routeguide.Rectangle', rect, ['hi', 'longitude'], '7');
    expect(rect).toEqual({
      lo: { latitude: -5, longitude: 0 },
      hi: { latitude: 0, longitude: 7 },
    });
    expect(() => json.setFromText('routeguide.Rectangle', rect, ['lo', 'x'], '1')).toThrow(
      /lo\.x: no such field/,
    );
  });

  it('writes lowerCamelCase with zero values and unset messages as null', () => {
    expect(
      json.toJson('routeguide.RouteSummary', { point_count: 0, feature_count: 2, distance: 3 }),
    ).toEqual({ pointCount: 0, featureCount: 2, distance: 3, elapsedTime: 0 });
    expect(json.toJson('routeguide.RouteNote', { location: null, message: 'm' })).toEqual({
      location: null,
      message: 'm',
    });
  });
});

describe('MessageSplitter', () => {
  const split = (chunks: string[], max = 1000): string[] => {
    const splitter = new MessageSplitter(max);
    const out = chunks.flatMap((c) => splitter.push(Buffer.from(c)));
    return [...out, ...splitter.end()];
  };

  it('splits NDJSON lines across chunks, skipping blank lines', () => {
    expect(split(['{"a":1}\n{"b"', ':2}\n\n', '{"c":3}'])).toEqual([
      '{"a":1}',
      '{"b":2}',
      '{"c":3}',
    ]);
  });

  it('splits a JSON array into its elements, strings and nesting included', () => {
    expect(split([' [ {"a":"x,]}\\"",', '"n":[1,2]} ,{"b":', '{}}', ' ] '])).toEqual([
      '{"a":"x,]}\\"","n":[1,2]}',
      '{"b":{}}',
    ]);
    expect(split(['[]'])).toEqual([]);
  });

  it('rejects an unclosed array, text after it, and messages over the limit', () => {
    expect(() => split(['[{"a":1}'])).toThrow(/not closed/);
    expect(() => split(['[{"a":1}] x'])).toThrow(/after the JSON array/);
    const error = (() => {
      try {
        split([`{"a":"${'x'.repeat(50)}`], 20);
      } catch (e) {
        return e as GatewayError;
      }
      return undefined;
    })();
    expect(error?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(error?.httpStatus).toBe(413);
  });

  it('keeps multi-byte characters split across chunks', () => {
    const bytes = Buffer.from('{"m":"日本"}\n');
    const splitter = new MessageSplitter(100);
    const out = [...splitter.push(bytes.subarray(0, 8)), ...splitter.push(bytes.subarray(8))];
    expect(out).toEqual(['{"m":"日本"}']);
  });
});

describe('requestDeadline (Grpc-Timeout)', () => {
  it.each([
    ['10S', 10_000],
    ['500m', 500],
    ['2M', 120_000],
    ['1H', 3_600_000],
    ['3000u', 3],
    ['99999999n', 99.999999],
  ])('%s is %d ms from now', (header, ms) => {
    expect(requestDeadline(header, 1000)).toBeCloseTo(1000 + ms);
  });

  it('is Infinity without the header and INVALID_ARGUMENT for a malformed one', () => {
    expect(requestDeadline(undefined)).toBe(Infinity);
    for (const bad of ['10', '1s', '123456789S', '-1S', 'S']) {
      expect(() => requestDeadline(bad)).toThrow(/Grpc-Timeout/);
    }
  });
});
