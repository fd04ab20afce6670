import type { Readable } from 'node:stream';

/**
 * Lowers how many messages grpc-js reads ahead into a server call's receive buffer.
 *
 * grpc-js reads a request message from HTTP/2 only when the call's Readable asks for one, and
 * Node's Readable asks until its buffer holds `highWaterMark` messages (16 for grpc-js calls),
 * even while paused. For a handler that pauses to apply backpressure that is up to 16 messages
 * of up to `MAX_RECEIVE_MESSAGE_BYTES` each, per stream, held for a client that stopped reading.
 * grpc-js offers no option for it, so this sets the Readable's own `highWaterMark` (a plain
 * field of Node's ReadableState); when the field is not there it changes nothing.
 */
export function limitReadAhead(stream: Readable, messages: number): void {
  const state = (stream as unknown as { _readableState?: { highWaterMark?: unknown } })
    ._readableState;
  if (state !== undefined && typeof state.highWaterMark === 'number') {
    state.highWaterMark = messages;
  }
}
