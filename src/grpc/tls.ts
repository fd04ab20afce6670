import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config';

/** A certificate or key file that cannot be read; start-up fails with its name. */
export class TlsFileError extends Error {
  constructor(
    readonly file: string,
    options: { cause: unknown },
  ) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code;
    super(`TLS file ${file} cannot be read${code ? ` (${code})` : ''}`, options);
    this.name = 'TlsFileError';
  }
}

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsFileError(file, { cause: error });
  }
}

/**
 * Credentials for the gRPC port: plaintext without `tls`; TLS with a certificate and key;
 * mutual TLS (client certificates required and checked against the CA) with `clientCaFile`.
 */
export function serverCredentials(tls: Config['tls']): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  const keyPair = { cert_chain: read(tls.certFile), private_key: read(tls.keyFile) };
  if (tls.clientCaFile === undefined) return grpc.ServerCredentials.createSsl(null, [keyPair]);
  return grpc.ServerCredentials.createSsl(read(tls.clientCaFile), [keyPair], true);
}
