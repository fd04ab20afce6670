#!/usr/bin/env node
/**
 * Container health probe: `node dist/healthcheck.js [service]` calls grpc.health.v1.Health/Check
 * on 127.0.0.1:$HEALTH_PORT (plaintext, when set; else $PORT) and exits 0 only when the answer
 * is SERVING. It is plain Node so that
 * images without a shell (distroless) can run it as an exec-form HEALTHCHECK.
 */
import * as grpc from '@grpc/grpc-js';
import { ConfigError, loadConfig } from './config';
import { formatAddress } from './grpc/address';
import { loadHealthClientConstructor } from './protocol/proto';

/** Exit codes: 0 SERVING, 1 anything else (not serving, unreachable, timed out), 2 bad configuration. */
const EXIT_UNHEALTHY = 1;
const EXIT_BAD_CONFIG = 2;

export interface HealthProbeOptions {
  /** Address to call; the probe runs inside the container, so loopback. Default `127.0.0.1`. */
  readonly host?: string;
  readonly port: number;
  /** Service to ask about; `""` (the default) means the whole server. */
  readonly service?: string;
  /** Deadline of the whole check, connecting included. Default 2000 ms. */
  readonly timeoutMs?: number;
}

/** Resolves with the serving status reported for `service`; rejects when the call fails. */
export async function probeHealth(options: HealthProbeOptions): Promise<string> {
  const Health = loadHealthClientConstructor();
  const client = new Health(
    formatAddress(options.host ?? '127.0.0.1', options.port),
    grpc.credentials.createInsecure(),
  );
  try {
    return await new Promise<string>((resolve, reject) => {
      client.Check(
        { service: options.service ?? '' },
        new grpc.Metadata(),
        { deadline: Date.now() + (options.timeoutMs ?? 2000) },
        (error, response) => (error ? reject(error) : resolve(response?.status ?? 'UNKNOWN')),
      );
    });
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  let port: number;
  try {
    // The plaintext health port when there is one (the main port may speak TLS).
    const config = loadConfig(process.env);
    port = config.healthPort ?? config.port;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`healthcheck: ${error.message}\n`);
    process.exit(EXIT_BAD_CONFIG);
  }
  const service = process.argv[2] ?? '';
  try {
    const status = await probeHealth({ port, service });
    process.stdout.write(`healthcheck: ${service || '(server)'} ${status}\n`);
    process.exitCode = status === 'SERVING' ? 0 : EXIT_UNHEALTHY;
  } catch (error) {
    process.stderr.write(`healthcheck: ${(error as Error).message}\n`);
    process.exitCode = EXIT_UNHEALTHY;
  }
}

if (require.main === module) void main();
