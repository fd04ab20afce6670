import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors';
import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';
import type { AdmittedHttp2Stream } from './admission';

/**
 * The HTTP/2 stream of a call, as the first server interceptor receives it: grpc-js's
 * BaseServerInterceptingCall keeps it in a private `stream` field (no public accessor). Admission
 * control needs it for the call's connection, its buffered bytes and to reset it.
 * {@link assertCallStreamReachable} checks at start-up that the field is still there.
 */
export function http2StreamOf(call: ServerInterceptingCallInterface): AdmittedHttp2Stream {
  return (call as unknown as { stream: AdmittedHttp2Stream }).stream;
}

/** The constructor of grpc-js's innermost server call (a parameter for tests). */
type BaseCallClass = new (
  stream: never,
  headers: Record<string, string>,
  callEventTracker: null,
  handler: never,
  options: Record<string, never>,
) => object;

/**
 * Throws when the grpc-js in use no longer keeps a call's HTTP/2 stream where
 * {@link http2StreamOf} reads it: builds one BaseServerInterceptingCall on a stand-in stream and
 * looks. Run at start-up, so an upgrade that moves the field stops the server, loudly, instead of
 * silently disabling per-connection limits and shedding.
 */
export function assertCallStreamReachable(
  Base: BaseCallClass = BaseServerInterceptingCall as unknown as BaseCallClass,
): void {
  const stream = { once() {}, on() {}, pause() {}, resume() {}, session: undefined };
  let probe: object;
  try {
    probe = new Base(stream as never, {}, null, { path: '/probe.Probe/Probe' } as never, {});
  } catch (error) {
    throw new Error(
      `cannot build a grpc-js BaseServerInterceptingCall to find its HTTP/2 stream: ${(error as Error).message}`,
    );
  }
  if ((probe as { stream?: unknown }).stream !== stream) {
    throw new Error(
      'grpc-js BaseServerInterceptingCall no longer keeps its HTTP/2 stream in `stream`: admission control cannot work with this grpc-js version',
    );
  }
}
