import { performance } from 'node:perf_hooks';
import type { ServerDuplexStream, ServerWritableStream } from '@grpc/grpc-js';
import { toServiceError, toStatusObject, type RpcError } from './errors';
import { preEncoded } from './pre-encoded';
import { assertReadAheadSupported, limitReadAhead } from './read-ahead';
import { MESSAGE_OVERHEAD_BYTES } from '../grpc/write-behind';
import type { Feature as FeatureMessage } from '../generated/routeguide/Feature';
import type { RouteGuideHandlers } from '../generated/routeguide/RouteGuide';
import type { RouteNote, RouteNote__Output } from '../generated/routeguide/RouteNote';
import type { Logger } from '../observability/logging';
import type { BoxCursor } from '../routeguide/box-index';
import type { FeatureDatabase } from '../routeguide/features';
import { encodeFeature } from '../routeguide/feature-wire';
import { boxFromCorners, isValidPoint, validatePoint } from '../routeguide/geo';
import { assertIntegerOptions } from '../util/integer-options';
import type { NotesStore } from '../routeguide/notes';
import { RouteAccumulator } from '../routeguide/route';

/** Default of {@link RouteGuideServiceDeps.listBatchBytes}. */
export const DEFAULT_LIST_BATCH_BYTES = 16 * 1024;

/** What the RouteGuide handlers need. */
export interface RouteGuideServiceDeps {
  readonly features: FeatureDatabase;
  readonly notes: NotesStore;
  readonly logger: Logger;
  /**
   * ListFeatures writes this many bytes of features before it waits for the stream to drain,
   * each feature counted with what a queued message costs beyond its bytes
   * (`MESSAGE_OVERHEAD_BYTES`). This bounds what a stalled reader holds in the server's write
   * buffer. Default: 16 KiB
   * ({@link DEFAULT_LIST_BATCH_BYTES}).
   */
  readonly listBatchBytes?: number;
  /**
   * The authenticated caller of a call (from its request metadata or its TLS peer), for the
   * call's log lines; never a metric label. Default: none logged.
   */
  readonly subjectOf?: (call: { readonly metadata: object }) => string | undefined;
}

/**
 * Writes the features a box cursor yields, as the bytes encoded at load, in batches of about
 * `batchBytes`. After a batch, if `write()` reported a full buffer, it waits for `drain`. grpc-js
 * calls its buffer full at 16 messages, a few hundred bytes of features, so waiting each time
 * it says so would cost an event-loop turn, and a socket write, per 16 features. A stalled
 * reader therefore holds at most one batch (plus one feature) in the stream's buffer.
 *
 * The query runs only as features are taken: each step takes at most one batch from the cursor
 * (or one cursor step of blocks without a hit, then yields the event loop), and before each batch
 * checks that the call is still wanted. Once it is cancelled (the client cancelled or went away)
 * or its deadline has passed, the pump does no more work and drops its listeners, so nothing
 * holds the cursor or the call. A fault while writing (now or in a later batch, after a `drain`)
 * ends the call with INTERNAL instead of escaping into the event loop.
 */
function streamFeatures(
  call: ServerWritableStream<unknown, FeatureMessage>,
  features: FeatureDatabase,
  cursor: BoxCursor,
  batchBytes: number,
  fail: (error: unknown) => void,
): void {
  const deadline = deadlineMs(call.getDeadline());
  let stopped = false;
  let resume: NodeJS.Immediate | undefined;
  const stop = (): void => {
    stopped = true;
    call.removeListener('drain', pump);
    call.removeListener('cancelled', stop);
    if (resume !== undefined) clearImmediate(resume);
  };
  const later = (): void => {
    resume = setImmediate(() => {
      resume = undefined;
      pump();
    });
  };
  function pump(): void {
    if (stopped) return;
    if (call.cancelled || Date.now() >= deadline) return stop();
    try {
      let batch = 0;
      for (;;) {
        const index = cursor.next();
        if (index < 0) {
          if (!cursor.done) return later();
          stop();
          call.end();
          return;
        }
        const bytes = features.encodedAt(index);
        batch += bytes.length + MESSAGE_OVERHEAD_BYTES;
        if (!call.write(preEncoded<FeatureMessage>(bytes)) && batch >= batchBytes) {
          call.once('drain', pump);
          return;
        }
        if (batch >= batchBytes) {
          if (call.cancelled || Date.now() >= deadline) return stop();
          batch = 0;
        }
      }
    } catch (error) {
      stop();
      fail(error);
    }
  }
  call.once('cancelled', stop);
  pump();
}

/** A call's deadline in epoch ms (grpc-js gives a Date or a number; Infinity when none). */
function deadlineMs(deadline: Date | number): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** Resolves when the stream can take more writes, or once it is cancelled or closed. */
function writable(call: ServerDuplexStream<RouteNote__Output, RouteNote>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
    call.on('cancelled', done);
  });
}

/**
 * RouteChat over any {@link NotesStore}. Notes of one call are handled strictly one at a time,
 * in order: the stream is paused as each note arrives (grpc-js then reads at most one message
 * ahead, see `limitReadAhead`), the store is asked, the replay is written honouring
 * backpressure (waiting for `drain` whenever the stream's buffer is full), and only then is the
 * next note read. A client that stops reading therefore stops its own stream: the server holds
 * for it at most one replay (≤ the per-location cap), the stream's write buffer (grpc-js: 16
 * messages), one note read ahead, and the request bytes HTTP/2 had already accepted: the stream's
 * receive window (64 KiB) and the messages grpc-js decoded from one chunk before the pause.
 */
function routeChat(
  call: ServerDuplexStream<RouteNote__Output, RouteNote>,
  notes: NotesStore,
  fail: (error: unknown) => RpcError,
): void {
  limitReadAhead(call, 1);
  let received = 0;
  let next: RouteNote__Output | undefined;
  let busy = false;
  let ended = false;
  let finished = false;
  const gone = (): boolean => finished || call.cancelled || call.destroyed;

  const pump = async (): Promise<void> => {
    busy = true;
    try {
      while (next !== undefined && !gone()) {
        const note = next;
        next = undefined;
        // The field path is only built for an invalid note, not for every note of a stream.
        const location = isValidPoint(note.location)
          ? note.location
          : validatePoint(note.location, `note[${received}].location`);
        const earlier = await notes.add({ location, message: note.message });
        received++;
        for (const previous of earlier) {
          if (gone()) return;
          if (!call.write(previous)) await writable(call);
        }
      }
    } catch (error) {
      if (!gone()) {
        finished = true;
        call.emit('error', toStatusObject(fail(error)));
      }
      return;
    } finally {
      busy = false;
    }
    if (gone()) return;
    if (ended) {
      finished = true;
      call.end();
    } else {
      call.resume();
    }
  };

  call.on('data', (note: RouteNote__Output) => {
    if (gone()) return;
    // Stop reading until this note is stored and its replay is written.
    call.pause();
    next = note;
    if (!busy) void pump();
  });
  call.on('end', () => {
    ended = true;
    if (!busy && !gone()) {
      finished = true;
      call.end();
    }
  });
}

/**
 * The RouteGuide handlers: translate messages to domain calls and domain results or errors
 * back to messages and statuses. All state lives in the injected dependencies.
 */
export function createRouteGuideService(deps: RouteGuideServiceDeps): RouteGuideHandlers {
  const { features, notes, logger } = deps;
  const listBatchBytes = deps.listBatchBytes ?? DEFAULT_LIST_BATCH_BYTES;
  assertIntegerOptions({ listBatchBytes }, 1);
  assertReadAheadSupported();
  const subjectOf = deps.subjectOf ?? (() => undefined);
  const fail = (error: unknown, method: string, call: { metadata: object }) =>
    toStatusObject(toServiceError(error, logger, method, subjectOf(call)));

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
        callback(toServiceError(error, logger, 'GetFeature', subjectOf(call)));
      }
    },

    ListFeatures(call) {
      try {
        const box = boxFromCorners(
          validatePoint(call.request.lo, 'lo'),
          validatePoint(call.request.hi, 'hi'),
        );
        streamFeatures(call, features, features.cursorWithin(box), listBatchBytes, (error) =>
          call.emit('error', fail(error, 'ListFeatures', call)),
        );
      } catch (error) {
        call.emit('error', fail(error, 'ListFeatures', call));
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
          callback(toServiceError(error, logger, 'RecordRoute', subjectOf(call)));
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
      routeChat(call, notes, (error) =>
        toServiceError(error, logger, 'RouteChat', subjectOf(call)),
      );
    },
  };
}
