/**
 * Defaults of admission control, shared by its options and the environment schema (here, apart
 * from admission.ts, because the configuration must load before @grpc/grpc-js does).
 */

/**
 * Streaming calls in progress per process. Idle streams (RouteChat, health Watch) cost a few KB
 * each; a stalled ListFeatures costs far more (about 1 MB at the 64 KiB write-behind window on
 * Node 24), and for those the memory budget, not this count, is the binding guard.
 */
export const DEFAULT_MAX_STREAMING_CALLS = 1000;
/** Streaming calls in progress per connection: one client gets a tenth of the process's calls. */
export const DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION = 100;
/** `grpc-retry-pushback-ms` of a refused call. */
export const DEFAULT_RETRY_PUSHBACK_MS = 250;
