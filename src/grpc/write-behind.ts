import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';

/** Default of the write-behind window: the HTTP/2 default stream window, 64 KiB. */
export const DEFAULT_WRITE_BEHIND_BYTES = 64 * 1024;

/**
 * What one queued message costs the server beyond its payload: grpc-js's framed copy, Node's
 * write request and the callbacks that wait on it (about 400 bytes on Node 24, measured with
 * stalled streams of 55-byte features). Counted against the window so that a window of small
 * messages holds what a window of large ones does, not twenty times as many objects.
 */
export const MESSAGE_OVERHEAD_BYTES = 512;

/** A call's bytes handed to the transport whose write has not completed yet. */
export interface WriteBehindState {
  pendingBytes: number;
}

/**
 * Sends a message and confirms it at once, before its write completes, while the call's
 * unconfirmed bytes stay within `windowBytes`; beyond that, the confirmation waits for the
 * write as grpc-js's own does.
 *
 * grpc-js confirms a message (the callback that lets its stream take the next one, or a unary
 * call send its status) only when Node's HTTP/2 stream has written it. A server stream therefore
 * moves one message per write: one native call, and one trip through two Writables, per
 * message. Confirmed early, the messages of one event-loop turn queue up in the HTTP/2 stream
 * and go down in one `writev`, and a unary call's status follows its message in the same turn.
 * Memory stays bounded: a stalled reader holds at most `windowBytes` here, then grpc-js's
 * stream fills, and handlers that honour backpressure wait.
 *
 * Each message counts its payload plus {@link MESSAGE_OVERHEAD_BYTES} against the window.
 * Only messages already encoded (bytes, see pre-encoded.ts) are sent ahead: their size is known.
 * Any other message is confirmed when written. A write that fails after an early
 * confirmation still ends the call: grpc-js answers INTERNAL (or the stream is gone).
 */
export function sendWriteBehind(
  state: WriteBehindState,
  next: ServerInterceptingCallInterface,
  message: unknown,
  callback: () => void,
  windowBytes: number,
): void {
  if (!(message instanceof Uint8Array)) {
    next.sendMessage(message, callback);
    return;
  }
  const size = message.length + MESSAGE_OVERHEAD_BYTES;
  const early = state.pendingBytes + size <= windowBytes;
  state.pendingBytes += size;
  next.sendMessage(message, () => {
    state.pendingBytes -= size;
    if (!early) callback();
  });
  if (early) callback();
}
