import type { Caller } from './authenticator';

/** Where the auth interceptor leaves the caller on a call's request metadata object. */
const CALLER = Symbol('routeguide.caller');

/**
 * Records who made a call on its request metadata object, which grpc-js hands on to the handler
 * (`call.metadata`): the handler's wrappers (tracing, logs) read it without another lookup. A
 * symbol key, so no metadata a client sends can forge it.
 */
export function attachCaller(metadata: object, caller: Caller): void {
  Object.defineProperty(metadata, CALLER, { value: caller, configurable: true });
}

/** The caller the auth interceptor recorded, if any. */
export function callerOf(metadata: object | undefined): Caller | undefined {
  return (metadata as { [CALLER]?: Caller } | undefined)?.[CALLER];
}
