import { Readable } from 'node:stream';

/** Node's ReadableState, reached through a stream's private `_readableState` field. */
interface ReadableInternals {
  _readableState?: { highWaterMark?: unknown };
}

/**
 * Lowers how many messages grpc-js reads ahead into a server call's receive buffer.
 *
 * grpc-js reads a request message from HTTP/2 only when the call's Readable asks for one, and
 * Node's Readable asks until its buffer holds `highWaterMark` messages (16 for grpc-js calls),
 * even while paused. For a handler that pauses to apply backpressure that is up to 16 messages
 * of up to `MAX_RECEIVE_MESSAGE_BYTES` each, per stream, held for a client that stopped reading.
 * grpc-js offers no option for it, so this sets the Readable's own `highWaterMark` (a plain
 * field of Node's ReadableState). {@link assertReadAheadSupported} checks at start-up that the
 * field is there and is the bound Node applies.
 */
export function limitReadAhead(stream: Readable, messages: number): void {
  const state = (stream as unknown as ReadableInternals)._readableState;
  if (state !== undefined && typeof state.highWaterMark === 'number') {
    state.highWaterMark = messages;
  }
}

/** A Readable constructor (a parameter for tests). */
type ReadableClass = new (options: { objectMode: true; read(): void }) => Readable;

/**
 * Throws when Node's Readable no longer keeps its read-ahead bound where {@link limitReadAhead}
 * sets it: builds an object-mode Readable (as grpc-js's server calls are), lowers its bound and
 * checks that the stream's public `readableHighWaterMark` follows. Run when the service is built,
 * so a Node upgrade that moves the field stops the server, loudly, instead of letting every
 * paused RouteChat stream read 16 messages ahead again.
 */
export function assertReadAheadSupported(Stream: ReadableClass = Readable): void {
  const probe = new Stream({ objectMode: true, read() {} });
  const state = (probe as unknown as ReadableInternals)._readableState;
  const bound = typeof state?.highWaterMark === 'number' ? state.highWaterMark + 1 : NaN;
  limitReadAhead(probe, bound);
  if (Number.isNaN(bound) || probe.readableHighWaterMark !== bound) {
    throw new Error(
      "Node's Readable no longer keeps its read-ahead bound in `_readableState.highWaterMark`: RouteChat cannot bound what a paused stream reads ahead with this Node version",
    );
  }
}
