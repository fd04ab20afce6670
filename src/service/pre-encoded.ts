import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * Responses encoded ahead of time. A handler may answer with the protobuf bytes of its response
 * message instead of the message object (`preEncoded(bytes)`), when the service was added with
 * {@link acceptPreEncodedResponses}: the wrapped serializer passes bytes through untouched, and
 * encodes anything else as usual. grpc-js then frames and writes them like any other message,
 * so the wire, flow control and the per-message interceptor events are unchanged.
 */

/** Marks protobuf bytes as a response message `T` for a handler's `write` or callback. */
export function preEncoded<T>(bytes: Buffer): T {
  return bytes as unknown as T;
}

/** A copy of `service` whose response serializers pass pre-encoded bytes through. */
export function acceptPreEncodedResponses<S extends ServiceDefinition>(service: S): S {
  const wrapped: Record<string, S[keyof S]> = {};
  for (const [name, method] of Object.entries(service) as [string, S[keyof S]][]) {
    const serialize = method.responseSerialize;
    wrapped[name] = {
      ...method,
      responseSerialize: (value: unknown): Buffer =>
        value instanceof Uint8Array ? (value as Buffer) : serialize(value),
    };
  }
  return wrapped as unknown as S;
}
