import * as grpc from '@grpc/grpc-js';
import type http2 from 'node:http2';
import fc from 'fast-check';
import { getFeature } from '../helpers/calls';
import { connect, frame, rawCall, type RawOutcome } from '../helpers/raw-grpc';
import { capturingLogger, startTestServer, type TestServer } from '../helpers/server';

const METHODS = ['GetFeature', 'ListFeatures', 'RecordRoute', 'RouteChat'].map(
  (m) => `/routeguide.RouteGuide/${m}`,
);
const ALLOWED = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.INTERNAL,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.UNIMPLEMENTED,
]);
const RUNS_PER_METHOD = 1500;

describe('bad input on the wire (raw HTTP/2, no protobuf encoding)', () => {
  let server: TestServer;
  let session: http2.ClientHttp2Session;
  let logs: () => Record<string, unknown>[];

  beforeAll(async () => {
    const captured = capturingLogger();
    logs = captured.lines;
    server = await startTestServer({ logger: captured.logger });
    session = await connect(server.address);
  });

  afterAll(async () => {
    session.close();
    await server.close();
  });

  function expectProperStatus(outcome: RawOutcome): void {
    expect(outcome.streamError).toBeUndefined();
    expect(outcome.grpcStatus).toBeDefined();
    expect(ALLOWED.has(outcome.grpcStatus!)).toBe(true);
  }

  const codes = new Map<string, number>();
  const count = (method: string, outcome: RawOutcome) => {
    const key = `${method} ${grpc.status[outcome.grpcStatus ?? -1] ?? outcome.streamError}`;
    codes.set(key, (codes.get(key) ?? 0) + 1);
  };

  it.each(METHODS)(
    'answers random and mutated payloads to %s with a proper status',
    async (method) => {
      // Valid encodings to mutate: a Point, a Rectangle and a RouteNote with a location.
      const seeds = [
        Buffer.from('08ba8ecbc30110d6d2e3f2fd01', 'hex').subarray(0, 12),
        Buffer.from('0a0c0880dcefbe0110809ffdd2fd01120c0880c8afc80110c0fbc9d4fd01', 'hex'),
        Buffer.from('0a0a08011002120568656c6c6f', 'hex'),
      ];
      const payload = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc
          .tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 }))
          .map(([seed, at, byte]) => {
            const copy = Buffer.from(seed);
            copy[at % copy.length] = byte;
            return copy;
          }),
        fc
          .tuple(fc.constantFrom(...seeds), fc.nat())
          .map(([seed, cut]) => seed.subarray(0, cut % seed.length)),
      );
      const samples = fc.sample(fc.array(payload, { minLength: 1, maxLength: 3 }), {
        numRuns: RUNS_PER_METHOD,
        seed: 7,
      });
      for (let i = 0; i < samples.length; i += 50) {
        const batch = samples.slice(i, i + 50);
        const outcomes = await Promise.all(
          batch.map((messages) =>
            rawCall(session, method, Buffer.concat(messages.map((m) => frame(m)))),
          ),
        );
        for (const outcome of outcomes) {
          expectProperStatus(outcome);
          count(method, outcome);
        }
      }
    },
  );

  it('answers truncated frames with a proper status', async () => {
    const cut = [
      Buffer.from([0]), // a length prefix cut short
      Buffer.from([0, 0, 0]),
      frame(Buffer.from('0801', 'hex'), 10), // declares 10 bytes, sends 2
      Buffer.concat([frame(Buffer.from('0801', 'hex')), Buffer.from([0, 0, 0, 0, 9, 8])]),
    ];
    for (const method of METHODS) {
      for (const [i, body] of cut.entries()) {
        const outcome = await rawCall(session, method, body);
        expectProperStatus(outcome);
        count(`${method} truncated`, outcome);
        // grpc-js drops a partial frame at the end of a request stream (an upstream leniency):
        // a unary or server-streaming call with no complete request fails; otherwise the call
        // proceeds with the complete messages it had.
        const hasCompleteMessage = i === 3;
        if (
          !hasCompleteMessage &&
          (method.endsWith('GetFeature') || method.endsWith('ListFeatures'))
        ) {
          expect(outcome.grpcStatus).not.toBe(grpc.status.OK);
        }
      }
      // A declared length beyond the receive limit is refused before any payload arrives.
      const huge = await rawCall(session, method, frame(Buffer.alloc(0), 0xffffffff));
      expect(huge.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    }
  });

  it('answers a frame flagged compressed without an encoding with a proper status', async () => {
    const body = Buffer.concat([Buffer.from([1, 0, 0, 0, 2]), Buffer.from('0801', 'hex')]);
    for (const method of METHODS) expectProperStatus(await rawCall(session, method, body));
  });

  it('answers an unsupported grpc-encoding with UNIMPLEMENTED', async () => {
    const body = Buffer.concat([Buffer.from([1, 0, 0, 0, 2]), Buffer.from('0801', 'hex')]);
    const outcome = await rawCall(session, METHODS[0]!, body, {
      extraHeaders: { 'grpc-encoding': 'snappy-nonexistent' },
    });
    expect(outcome.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('answers unknown methods and services with UNIMPLEMENTED', async () => {
    for (const path of ['/routeguide.RouteGuide/Nope', '/nope.Service/GetFeature', '/']) {
      const outcome = await rawCall(session, path, frame(Buffer.alloc(0)));
      expect(outcome.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
    }
  });

  it('rejects wrong content-types without running the handler', async () => {
    for (const contentType of ['application/json', 'text/plain', 'application/x-protobuf', '']) {
      const outcome = await rawCall(session, METHODS[0]!, frame(Buffer.alloc(0)), { contentType });
      // gRPC over HTTP/2: a non-gRPC content type is answered 415 Unsupported Media Type.
      expect(outcome.httpStatus).toBe(415);
      expect(outcome.bodyBytes).toBe(0);
    }
  });

  it('still serves, and logged no error or stack for any of these client mistakes', async () => {
    const feature = await getFeature(server.client, { latitude: 409146138, longitude: -746188906 });
    expect(feature.name).not.toBe('');
    const noisy = logs().filter(
      (line) => line['level'] === 'error' || line['level'] === 'fatal' || 'err' in line,
    );
    expect(noisy).toEqual([]);
    // The figures for the closing note.
    process.stdout.write(`wire fuzz outcomes: ${JSON.stringify(Object.fromEntries(codes))}\n`);
  });
});
