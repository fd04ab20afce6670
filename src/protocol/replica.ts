/**
 * Response header naming the replica that served a call. The server sets it on every call
 * (`call-observer.ts`); clients read it to tell which replica answered.
 */
export const REPLICA_HEADER = 'x-routeguide-replica';
