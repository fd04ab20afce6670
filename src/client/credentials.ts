import { readFileSync } from 'node:fs';
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

/** TLS material as PEM file paths, as the CLI's `--tls-*` options and the gateway's variables name it. */
export interface TlsFiles {
  /** Trusted root certificates; default: Node's bundled roots. */
  readonly caFile?: string | undefined;
  /** Client certificate chain for mutual TLS; needs `keyFile`. */
  readonly certFile?: string | undefined;
  /** Private key of the client certificate; needs `certFile`. */
  readonly keyFile?: string | undefined;
  /** Name to verify the server certificate against instead of the target's host. */
  readonly serverName?: string | undefined;
}

/**
 * Reads the PEM files of `files` into {@link TlsOptions}. A file that cannot be read throws an
 * Error naming it as `names` does (default: the field, e.g. `caFile`) with the path and the cause.
 */
export function readTlsFiles(
  files: TlsFiles,
  names: Readonly<Record<'caFile' | 'certFile' | 'keyFile', string>> = {
    caFile: 'caFile',
    certFile: 'certFile',
    keyFile: 'keyFile',
  },
): TlsOptions {
  const read = (field: 'caFile' | 'certFile' | 'keyFile'): Buffer | undefined => {
    const file = files[field];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      const cause = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new Error(`${names[field]}: cannot read ${file} (${cause})`);
    }
  };
  const ca = read('caFile');
  const cert = read('certFile');
  const key = read('keyFile');
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(files.serverName !== undefined ? { serverName: files.serverName } : {}),
  };
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
