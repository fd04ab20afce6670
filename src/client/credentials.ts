import * as grpc from '@grpc/grpc-js';

/** TLS material as PEM bytes. With none of it, the channel is plaintext. */
export interface TlsOptions {
  /** Trusted root certificates; default: Node's bundled roots. */
  readonly ca?: Buffer;
  /** Client certificate chain for mutual TLS; needs `key`. */
  readonly cert?: Buffer;
  /** Private key of the client certificate; needs `cert`. */
  readonly key?: Buffer;
  /** Name to verify the server certificate against instead of the target's host. */
  readonly serverName?: string;
}

/** Channel credentials: TLS when `tls` is given, plaintext otherwise. */
export function channelCredentials(tls: TlsOptions | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new Error('a TLS client certificate needs both cert and key');
  }
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/**
 * Adds `authorization: Bearer <token>` to every call; a function is asked per call (a rotated
 * token file). An interceptor rather than call credentials because grpc-js refuses call
 * credentials on plaintext channels, and a token in front of a TLS-terminating proxy or in a
 * test still has to be sent.
 */
export function withBearerToken(token: string | (() => string)): grpc.Interceptor {
  const fixed = typeof token === 'string' ? `Bearer ${token}` : undefined;
  const current = typeof token === 'string' ? undefined : token;
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', fixed ?? `Bearer ${current!()}`);
        next(metadata, listener);
      },
    });
}
