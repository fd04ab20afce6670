import * as grpc from '@grpc/grpc-js';
import { REPLICA_HEADER } from '../../src/protocol/replica';
import { FeatureDatabase } from '../../src/routeguide/features';
import { DEFAULT_LIST_BATCH_BYTES } from '../../src/service/route-guide';
import { canonicalFeatures, featuresInBox } from '../helpers/canonical';
import {
  eventually,
  getFeature,
  listFeatures,
  openChat,
  recordRoute,
  routeChat,
  settledCount,
} from '../helpers/calls';
import { countingDatabase, syntheticFeatures } from '../helpers/features';
import { capturingLogger, startTestServer, type TestServer } from '../helpers/server';

const features = canonicalFeatures();
const BERKSHIRE = { latitude: 409146138, longitude: -746188906 };
const WHOLE_DB = {
  lo: { latitude: 400000000, longitude: -750000000 },
  hi: { latitude: 420000000, longitude: -730000000 },
};

function statusOf(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: grpc.ServiceError) => error,
  );
}

describe('RouteGuide over gRPC', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    await server.close();
  });

  describe('GetFeature', () => {
    it('returns the named feature at a database location', async () => {
      expect(await getFeature(server.client, BERKSHIRE)).toEqual({
        name: 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA',
        location: BERKSHIRE,
      });
    });

    it('returns every database entry at its location, unnamed ones included', async () => {
      for (const feature of features) {
        expect(await getFeature(server.client, feature.location)).toEqual(feature);
      }
    });

    it('returns an unnamed feature at the point for any other point', async () => {
      for (const point of [
        { latitude: 0, longitude: 0 },
        { latitude: BERKSHIRE.latitude + 1, longitude: BERKSHIRE.longitude },
        { latitude: -900000000, longitude: 1800000000 },
      ]) {
        expect(await getFeature(server.client, point)).toEqual({ name: '', location: point });
      }
    });

    it.each([
      [{ latitude: 900000001, longitude: 0 }, 'latitude 900000001 is out of range'],
      [{ latitude: -900000001, longitude: 0 }, 'latitude -900000001 is out of range'],
      [{ latitude: 0, longitude: 1800000001 }, 'longitude 1800000001 is out of range'],
      [{ latitude: 0, longitude: -2147483648 }, 'longitude -2147483648 is out of range'],
    ])('rejects %j with INVALID_ARGUMENT naming the field', async (point, message) => {
      const error = await statusOf(getFeature(server.client, point));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toContain(message);
    });

    it('names the serving replica in the response headers', async () => {
      const headers = await new Promise<grpc.Metadata>((resolve, reject) => {
        const call = server.client.GetFeature(BERKSHIRE, (error) => error && reject(error));
        call.on('metadata', resolve);
      });
      expect(headers.get(REPLICA_HEADER)).toEqual(['test-replica']);
    });
  });

  describe('ListFeatures', () => {
    it('streams all 100 features of the documented box in database order', async () => {
      expect(await listFeatures(server.client, WHOLE_DB)).toEqual(features);
    });

    it('accepts the corners in any order', async () => {
      const swapped = { lo: WHOLE_DB.hi, hi: WHOLE_DB.lo };
      const mixed = {
        lo: { latitude: 400000000, longitude: -730000000 },
        hi: { latitude: 420000000, longitude: -750000000 },
      };
      expect(await listFeatures(server.client, swapped)).toEqual(features);
      expect(await listFeatures(server.client, mixed)).toEqual(features);
    });

    it('treats bounds as inclusive and matches a linear scan on smaller boxes', async () => {
      const cases = [
        { lo: features[3]!.location, hi: features[3]!.location },
        { lo: features[0]!.location, hi: features[9]!.location },
        {
          lo: { latitude: 405000000, longitude: -745000000 },
          hi: { latitude: 410000000, longitude: -740000000 },
        },
      ];
      for (const rectangle of cases) {
        const expected = featuresInBox(features, rectangle.lo, rectangle.hi);
        expect(expected.length).toBeGreaterThan(0);
        expect(await listFeatures(server.client, rectangle)).toEqual(expected);
      }
    });

    it('streams nothing for a box with no features', async () => {
      expect(
        await listFeatures(server.client, {
          lo: { latitude: 0, longitude: 0 },
          hi: { latitude: 10, longitude: 10 },
        }),
      ).toEqual([]);
    });

    it.each([
      [{ hi: WHOLE_DB.hi }, 'lo is required'],
      [{ lo: WHOLE_DB.lo }, 'hi is required'],
      [{}, 'lo is required'],
      [{ lo: { latitude: 900000001, longitude: 0 }, hi: WHOLE_DB.hi }, 'lo.latitude 900000001'],
      [
        { lo: WHOLE_DB.lo, hi: { latitude: 0, longitude: -1800000001 } },
        'hi.longitude -1800000001',
      ],
    ])('rejects %j with INVALID_ARGUMENT naming the field', async (rectangle, message) => {
      const error = await statusOf(listFeatures(server.client, rectangle));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toContain(message);
    });

    it('stops writing when the client cancels', async () => {
      // A large database and a client that cancels after the first message: the server must
      // stop long before it could have written everything.
      await server.close();
      const many = syntheticFeatures(200_000, undefined, true);
      const { db: big, produced } = countingDatabase(many);
      server = await startTestServer({ features: big });
      const call = server.client.ListFeatures({
        lo: { latitude: 0, longitude: 0 },
        hi: { latitude: 200_000, longitude: 200_000 },
      });
      const outcome = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      await new Promise<void>((resolve) =>
        call.once('data', () => {
          call.cancel();
          resolve();
        }),
      );
      expect((await outcome).code).toBe(grpc.status.CANCELLED);
      const afterCancel = await settledCount(produced);
      expect(afterCancel).toBeLessThan(many.length / 10);
    });

    it('waits for a slow reader instead of buffering the whole result', async () => {
      await server.close();
      const many = syntheticFeatures(100_000, () => 'x'.repeat(100));
      const { db: big, produced: written } = countingDatabase(many);
      server = await startTestServer({ features: big });
      const call = server.client.ListFeatures({
        lo: { latitude: 0, longitude: 0 },
        hi: { latitude: 100_000, longitude: 0 },
      });
      let received = 0;
      call.on('data', () => {
        received++;
        if (received === 1) call.pause();
      });
      await eventually(() => received >= 1, 5000, 'first message');
      // With the reader paused, the server stops at what flow-control windows hold.
      const stalled = await settledCount(written);
      expect(stalled).toBeLessThan(many.length / 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // At most one batch (DEFAULT_LIST_BATCH_BYTES of features) trickles on.
      const featureBytes = FeatureDatabase.fromFeatures(many.slice(0, 1)).encodedAt(0).length;
      expect(written() - stalled).toBeLessThanOrEqual(
        Math.ceil(DEFAULT_LIST_BATCH_BYTES / featureBytes) + 1,
      );
      const ended = new Promise<void>((resolve) => call.on('end', resolve));
      call.resume();
      await ended;
      expect(received).toBe(many.length);
      expect(written()).toBe(many.length);
    });
  });

  describe('RecordRoute', () => {
    it('summarises the first five database entries: 266396 m', async () => {
      const summary = await recordRoute(
        server.client,
        features.slice(0, 5).map((f) => f.location),
      );
      expect(summary).toEqual({
        point_count: 5,
        feature_count: 5,
        distance: 266396,
        elapsed_time: 0,
      });
    });

    it('counts only points that are database locations', async () => {
      const summary = await recordRoute(server.client, [
        features[0]!.location,
        { latitude: 1, longitude: 1 },
        features[23]!.location, // unnamed, still a database location
        { latitude: 1, longitude: 1 },
      ]);
      expect(summary.point_count).toBe(4);
      expect(summary.feature_count).toBe(2);
    });

    it('reports an empty route as zeros', async () => {
      expect(await recordRoute(server.client, [])).toEqual({
        point_count: 0,
        feature_count: 0,
        distance: 0,
        elapsed_time: 0,
      });
    });

    it('measures elapsed time to the end of the client stream in whole seconds', async () => {
      const summary = await recordRoute(server.client, [features[0]!.location], 1100);
      expect(summary.elapsed_time).toBe(1);
    });

    it('rejects an out-of-range point with INVALID_ARGUMENT naming it', async () => {
      const error = await statusOf(
        recordRoute(server.client, [
          features[0]!.location,
          features[1]!.location,
          { latitude: 0, longitude: 1800000001 },
        ]),
      );
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toBe(
        'point[2].longitude 1800000001 is out of range [-1800000000, 1800000000]',
      );
    });
  });

  describe('RouteChat', () => {
    const here = features[0]!.location;
    const there = features[1]!.location;

    it('replays earlier notes at the same location before storing each new one', async () => {
      const received = await routeChat(server.client, [
        { location: here, message: 'first' },
        { location: there, message: 'elsewhere' },
        { location: here, message: 'second' },
        { location: here, message: 'third' },
      ]);
      expect(received).toEqual([
        { location: here, message: 'first' },
        { location: here, message: 'first' },
        { location: here, message: 'second' },
      ]);
    });

    it('shares notes between callers, oldest first', async () => {
      const alice = openChat(server.client);
      const bob = openChat(server.client);
      alice.call.write({ location: here, message: 'alice 1' });
      await eventually(() => server.app.notes.size === 1, 5000, 'alice 1 stored');
      bob.call.write({ location: here, message: 'bob 1' });
      await eventually(() => bob.received.length === 1, 5000, 'bob sees alice 1');
      alice.call.write({ location: here, message: 'alice 2' });
      await eventually(() => alice.received.length === 2, 5000, 'alice sees both');
      alice.call.end();
      bob.call.end();
      expect(await bob.done).toEqual([{ location: here, message: 'alice 1' }]);
      expect(await alice.done).toEqual([
        { location: here, message: 'alice 1' },
        { location: here, message: 'bob 1' },
      ]);
    });

    it('rejects a note without a location', async () => {
      const error = await statusOf(
        routeChat(server.client, [{ location: here, message: 'ok' }, { message: 'nowhere' }]),
      );
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toBe('note[1].location is required');
    });

    it('rejects a note with an out-of-range location', async () => {
      const error = await statusOf(
        routeChat(server.client, [
          { location: { latitude: 1000000000, longitude: 0 }, message: 'x' },
        ]),
      );
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toContain('note[0].location.latitude 1000000000 is out of range');
    });

    it('honours the per-location cap', async () => {
      await server.close();
      server = await startTestServer({ env: { NOTES_MAX_PER_LOCATION: '2' } });
      const received = await routeChat(
        server.client,
        ['a', 'b', 'c', 'd'].map((message) => ({ location: here, message })),
      );
      expect(received.map((n) => n.message)).toEqual(['a', 'a', 'b', 'b', 'c']);
    });
  });

  describe('internal faults', () => {
    it('answer INTERNAL, log the cause and keep serving', async () => {
      await server.close();
      const { logger, lines } = capturingLogger();
      const db = FeatureDatabase.fromFeatures(features);
      server = await startTestServer({ features: db, logger });
      const realIndexOf = db.indexOf.bind(db);
      db.indexOf = () => {
        throw new Error('disk on fire');
      };
      const error = await statusOf(getFeature(server.client, BERKSHIRE));
      expect(error.code).toBe(grpc.status.INTERNAL);
      expect(error.details).toBe('internal error');
      const logged = lines().find((line) => line['msg'] === 'handler failed');
      expect(logged).toMatchObject({ level: 'error', method: 'GetFeature' });
      expect((logged?.['err'] as { message: string }).message).toBe('disk on fire');

      db.cursorWithin = () => {
        throw new Error('index broken');
      };
      expect((await statusOf(listFeatures(server.client, WHOLE_DB))).code).toBe(
        grpc.status.INTERNAL,
      );

      db.indexOf = realIndexOf;
      expect((await getFeature(server.client, BERKSHIRE)).name).not.toBe('');
    });

    it('a fault in a later ListFeatures batch (after a drain) is INTERNAL for that call only', async () => {
      await server.close();
      const { logger, lines } = capturingLogger();
      const db = FeatureDatabase.fromFeatures(syntheticFeatures(20_000));
      server = await startTestServer({ features: db, logger });
      // Features are produced in batches (DEFAULT_LIST_BATCH_BYTES, ~900 of these ~18-byte
      // features) that resume on `drain`; the 5000th is produced from a drain event.
      let produced = 0;
      const fault = (): never => {
        throw new Error('feature 5000 unreadable');
      };
      const featureAt = db.featureAt.bind(db);
      const encodedAt = db.encodedAt.bind(db);
      db.featureAt = (i) => (++produced === 5000 ? fault() : featureAt(i));
      db.encodedAt = (i) => (++produced === 5000 ? fault() : encodedAt(i));

      const everything = {
        lo: { latitude: -900_000_000, longitude: -1_800_000_000 },
        hi: { latitude: 900_000_000, longitude: 1_800_000_000 },
      };
      const received: unknown[] = [];
      const call = server.client.ListFeatures(everything);
      call.on('data', (feature) => received.push(feature));
      const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
        call.on('error', resolve);
        call.on('end', () => reject(new Error('the stream ended OK')));
      });
      expect(error.code).toBe(grpc.status.INTERNAL);
      expect(error.details).toBe('internal error');
      expect(received.length).toBeGreaterThan(DEFAULT_LIST_BATCH_BYTES / 19);
      expect(received.length).toBeLessThan(5000);
      const logged = lines().find((line) => line['msg'] === 'handler failed');
      expect(logged).toMatchObject({ level: 'error', method: 'ListFeatures' });

      // The server still serves, the same call included.
      expect(await listFeatures(server.client, everything)).toHaveLength(20_000);
    });
  });
});
