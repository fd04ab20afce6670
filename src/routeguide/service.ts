import { performance } from 'node:perf_hooks';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { toServiceError, toStatusObject } from '../grpc/errors';
import { preEncoded } from '../grpc/pre-encoded';
import type { Feature as FeatureMessage } from '../generated/routeguide/Feature';
import type { RouteGuideHandlers } from '../generated/routeguide/RouteGuide';
import type { Logger } from '../observability/logging';
import type { FeatureDatabase } from './features';
import { encodeFeature } from './feature-wire';
import { boxFromCorners, validatePoint } from './geo';
import type { NotesStore } from './notes';
import { RouteAccumulator } from './route';

/** What the RouteGuide handlers need. */
export interface RouteGuideServiceDeps {
  readonly features: FeatureDatabase;
  readonly notes: NotesStore;
  readonly logger: Logger;
}

/**
 * Writes features by database index, as the bytes encoded at load, honouring backpressure:
 * when `write()` reports a full buffer it waits for `drain`; it stops as soon as the call is
 * cancelled or its deadline passes. A fault while writing (now or in a later batch, after a
 * `drain`) ends the call with INTERNAL instead of escaping into the event loop.
 */
function streamFeatures(
  call: ServerWritableStream<unknown, FeatureMessage>,
  features: FeatureDatabase,
  indexes: Uint32Array,
  fail: (error: unknown) => void,
): void {
  let next = 0;
  const pump = (): void => {
    try {
      while (next < indexes.length) {
        if (call.cancelled) return;
        if (!call.write(preEncoded<FeatureMessage>(features.encodedAt(indexes[next++]!)))) {
          call.once('drain', pump);
          return;
        }
      }
      call.end();
    } catch (error) {
      call.removeListener('drain', pump);
      fail(error);
    }
  };
  call.once('cancelled', () => call.removeListener('drain', pump));
  pump();
}

/**
 * The RouteGuide handlers: translate messages to domain calls and domain results or errors
 * back to messages and statuses. All state lives in the injected dependencies.
 */
export function createRouteGuideService(deps: RouteGuideServiceDeps): RouteGuideHandlers {
  const { features, notes, logger } = deps;
  const fail = (error: unknown, method: string) =>
    toStatusObject(toServiceError(error, logger, method));

  return {
    GetFeature(call, callback) {
      try {
        const { latitude, longitude } = validatePoint(call.request);
        const index = features.indexOf(latitude, longitude);
        callback(
          null,
          preEncoded<FeatureMessage>(
            index >= 0 ? features.encodedAt(index) : encodeFeature('', latitude, longitude),
          ),
        );
      } catch (error) {
        callback(toServiceError(error, logger, 'GetFeature'));
      }
    },

    ListFeatures(call) {
      try {
        const box = boxFromCorners(
          validatePoint(call.request.lo, 'lo'),
          validatePoint(call.request.hi, 'hi'),
        );
        streamFeatures(call, features, features.indexesWithin(box), (error) =>
          call.emit('error', fail(error, 'ListFeatures')),
        );
      } catch (error) {
        call.emit('error', fail(error, 'ListFeatures'));
      }
    },

    RecordRoute(call, callback) {
      const started = performance.now();
      const route = new RouteAccumulator((point) => features.has(point));
      let received = 0;
      let failed = false;
      call.on('data', (point) => {
        if (failed) return;
        try {
          route.add(validatePoint(point, `point[${received}]`));
          received++;
        } catch (error) {
          failed = true;
          callback(toServiceError(error, logger, 'RecordRoute'));
        }
      });
      call.on('end', () => {
        if (failed) return;
        const summary = route.summarize(performance.now() - started);
        callback(null, {
          point_count: summary.pointCount,
          feature_count: summary.featureCount,
          distance: summary.distanceMetres,
          elapsed_time: summary.elapsedSeconds,
        });
      });
    },

    RouteChat(call) {
      let received = 0;
      let failed = false;
      const resume = (): void => {
        call.resume();
      };
      call.on('data', (note) => {
        if (failed) return;
        try {
          const location = validatePoint(note.location, `note[${received}].location`);
          const earlier = notes.add({ location, message: note.message });
          received++;
          let writable = true;
          for (const previous of earlier) writable = call.write(previous);
          if (!writable) {
            // Stop reading until the client takes what we already owe it.
            call.pause();
            call.once('drain', resume);
          }
        } catch (error) {
          failed = true;
          call.emit('error', fail(error, 'RouteChat'));
        }
      });
      call.on('end', () => {
        if (!failed) call.end();
      });
    },
  };
}
