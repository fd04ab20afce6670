import {
  Metadata,
  ServerInterceptingCall,
  ResponderBuilder,
  type ServerInterceptor,
} from '@grpc/grpc-js';

/** Response header naming the replica that served a call. */
export const REPLICA_HEADER = 'x-routeguide-replica';

/**
 * Stamps every response, of every service on the server, with the replica's identity: in the
 * initial metadata (what `grpcurl -v` and clients' `metadata` events show) and, for calls that
 * end before any header was sent (errors), in the trailers.
 */
export function replicaIdInterceptor(replicaId: string): ServerInterceptor {
  return (_method, call) => {
    let headerSent = false;
    const responder = new ResponderBuilder()
      .withSendMetadata((metadata, next) => {
        metadata.set(REPLICA_HEADER, replicaId);
        headerSent = true;
        next(metadata);
      })
      .withSendStatus((status, next) => {
        if (headerSent) {
          next(status);
          return;
        }
        // Statuses made by interceptors (e.g. UNAUTHENTICATED) may carry no metadata at all.
        const metadata = status.metadata ?? new Metadata();
        metadata.set(REPLICA_HEADER, replicaId);
        next({ ...status, metadata });
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
