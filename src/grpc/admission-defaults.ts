/**
 * Defaults of admission control, shared by its options and the environment schema (here, apart
 * from admission.ts, because the configuration must load before @grpc/grpc-js does).
 */

/**
 * Streaming calls in progress per process. A stalled ListFeatures costs about 140 KB on Node 24
 * (write-behind window, one batch, HTTP/2 buffers), so 1000 stay within a 256 MiB container
 * beside the ~70 MB a serving process needs; the memory budget guards the rest.
 */
export const DEFAULT_MAX_STREAMING_CALLS = 1000;
/** Streaming calls in progress per connection: one client gets a tenth of the process's calls. */
export const DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION = 100;
/** `grpc-retry-pushback-ms` of a refused call. */
export const DEFAULT_RETRY_PUSHBACK_MS = 250;
