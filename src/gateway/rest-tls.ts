import { readFileSync } from 'node:fs';
import type * as https from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { TlsFileError, type ServerTlsFiles } from '../grpc/tls';
import type { Logger } from '../observability/logging';

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsFileError(file, { cause: error });
  }
}

/** The key material of the TLS files, read now. */
function load(files: ServerTlsFiles): SecureContextOptions & { ca?: Buffer } {
  return {
    cert: read(files.certFile),
    key: read(files.keyFile),
    ...(files.clientCaFile !== undefined ? { ca: read(files.clientCaFile) } : {}),
  };
}

/**
 * HTTPS options for the REST port from the gRPC port's TLS files: the same certificate and key;
 * with a client CA, client certificates are required and checked (mutual TLS: a browser then
 * needs the client certificate installed). A missing or mismatched file throws at start-up.
 */
export function restTlsOptions(files: ServerTlsFiles): https.ServerOptions {
  const material = load(files);
  return {
    ...material,
    ...(files.clientCaFile !== undefined ? { requestCert: true, rejectUnauthorized: true } : {}),
    minVersion: 'TLSv1.2',
  };
}

/**
 * Re-reads the TLS files every `reloadIntervalMs` and gives the server a new secure context when
 * they changed, for new connections (open ones keep theirs), like the gRPC port's file watcher.
 * A file that cannot be read or does not fit is logged and the previous context kept. Returns
 * the function that stops watching.
 */
export function watchRestTls(
  server: https.Server,
  files: ServerTlsFiles,
  logger: Logger,
): () => void {
  let last = fingerprint(load(files));
  const timer = setInterval(() => {
    try {
      const material = load(files);
      const next = fingerprint(material);
      if (next === last) return;
      server.setSecureContext({ ...material, minVersion: 'TLSv1.2' });
      last = next;
      logger.info('REST port TLS files reloaded');
    } catch (error) {
      logger.warn(
        { err: error },
        'REST port TLS files could not be reloaded; keeping the previous ones',
      );
    }
  }, files.reloadIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function fingerprint(material: SecureContextOptions & { ca?: Buffer }): string {
  return [material.cert, material.key, material.ca]
    .map((b) => (b as Buffer | undefined)?.toString('base64') ?? '')
    .join('|');
}
