import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../observability/logging';

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

/** The TLS files of the gRPC port; `clientCaFile` additionally requires client certificates. */
export interface ServerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string;
  /** The three files are re-read this often; changes apply to new connections. */
  readonly reloadIntervalMs: number;
}

/** Options for {@link ServerTls}. */
export interface ServerTlsOptions {
  /** The TLS files; undefined means plaintext. */
  readonly tls: ServerTlsFiles | undefined;
  /**
   * How often the files are re-read; a changed certificate, key or client CA applies to new
   * connections from then on (open ones keep theirs). Default 5000 ms.
   */
  readonly reloadIntervalMs?: number;
  readonly logger: Logger;
}

/**
 * Credentials for the gRPC port: plaintext without `tls`; TLS with a certificate and key;
 * mutual TLS (client certificates required and checked against the CA) with `clientCaFile`.
 *
 * The files are checked synchronously at start-up (a missing file or a key that does not match
 * its certificate stops start-up), then watched by grpc-js's FileWatcherCertificateProvider, so
 * certificates rotated in place (cert-manager rewriting a mounted Secret) are served without a
 * restart; the client CA bundle is watched the same way.
 */
export class ServerTls {
  readonly credentials: grpc.ServerCredentials;
  private readonly provider: grpc.experimental.FileWatcherCertificateProvider | undefined;
  private readonly firstLoad: Promise<void>;
  private lastCertificate: Buffer | undefined;
  private stopListening: (() => void) | undefined;

  constructor(options: ServerTlsOptions) {
    const { tls, logger } = options;
    if (tls === undefined) {
      this.credentials = grpc.ServerCredentials.createInsecure();
      this.firstLoad = Promise.resolve();
      return;
    }
    const cert = read(tls.certFile);
    const key = read(tls.keyFile);
    const ca = tls.clientCaFile === undefined ? undefined : read(tls.clientCaFile);
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) }); // throws on a mismatched pair
    this.lastCertificate = cert;
    const provider = new grpc.experimental.FileWatcherCertificateProvider({
      certificateFile: tls.certFile,
      privateKeyFile: tls.keyFile,
      ...(tls.clientCaFile !== undefined ? { caCertificateFile: tls.clientCaFile } : {}),
      refreshIntervalMs: options.reloadIntervalMs ?? 5000,
    });
    this.provider = provider;
    // Argument order: identity provider, CA provider (null: no client certificates), require.
    this.credentials = grpc.experimental.createCertificateProviderServerCredentials(
      provider,
      tls.clientCaFile === undefined ? null : provider,
      tls.clientCaFile !== undefined,
    );
    // Our own listener: know when the first read is in (grpc-js drops connections until then)
    // and log each change.
    this.firstLoad = new Promise((resolve) => {
      const onIdentity = (update: { certificate: Buffer } | null): void => {
        if (update === null) {
          logger.warn(
            { certFile: tls.certFile, keyFile: tls.keyFile },
            'TLS certificate or key unreadable: new connections are refused until it is back',
          );
          return;
        }
        if (
          this.lastCertificate !== undefined &&
          !update.certificate.equals(this.lastCertificate)
        ) {
          logger.info({ certFile: tls.certFile }, 'TLS certificate reloaded');
        }
        this.lastCertificate = update.certificate;
        resolve();
      };
      provider.addIdentityCertificateListener(onIdentity);
      this.stopListening = () => provider.removeIdentityCertificateListener(onIdentity);
    });
  }

  /**
   * Resolves once the certificates are loaded and TLS connections can be accepted; rejects
   * when the files cannot be read within `timeoutMs` (they were readable a moment before).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`TLS files not loaded within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.firstLoad, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops watching the files (once the server is shut down). */
  close(): void {
    this.stopListening?.();
    this.stopListening = undefined;
  }
}
