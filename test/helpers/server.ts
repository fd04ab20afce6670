import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { loadConfig, type Config } from '../../src/config';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { createLogger, type Logger } from '../../src/observability/logging';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { loadFeatureDatabase, type FeatureDatabase } from '../../src/routeguide/features';
import { RouteGuideApp } from '../../src/server';
import { CANONICAL_FILE } from './canonical';

/** A config for in-process test servers: loopback, ephemeral ports, quiet logs. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    REST_PORT: '0',
    LOG_LEVEL: 'silent',
    FEATURES_FILE: CANONICAL_FILE,
    REPLICA_ID: 'test-replica',
    // The test runner's RSS is not a server's: no memory budget unless a test sets one.
    MEMORY_LIMIT_BYTES: '0',
    ...env,
  });
}

/** A logger whose JSON lines are kept in memory for assertions. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('info', sink);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

export interface TestServer {
  readonly app: RouteGuideApp;
  readonly address: string;
  readonly client: RouteGuideClient;
  /** `http://127.0.0.1:<REST port>` (empty when REST=false). */
  readonly restUrl: string;
  close(): Promise<void>;
}

/** Starts the real server on 127.0.0.1:0 with a real grpc-js client connected to it. */
export async function startTestServer(
  options: {
    env?: Record<string, string>;
    features?: FeatureDatabase;
    logger?: Logger;
    /** The memory budget's RSS sampler (with MEMORY_LIMIT_BYTES set). */
    rss?: () => number;
  } = {},
): Promise<TestServer> {
  const config = testConfig(options.env);
  const features = options.features ?? loadFeatureDatabase(config.featuresFile);
  const logger = options.logger ?? createLogger('silent');
  const app = new RouteGuideApp({
    config,
    logger,
    features,
    ...(options.rss ? { rss: options.rss } : {}),
  });
  const port = await app.listen();
  const address = `127.0.0.1:${port}`;
  const { proto } = loadRouteGuideProto();
  const client = new proto.routeguide.RouteGuide(address, grpc.credentials.createInsecure());
  return {
    app,
    address,
    client,
    restUrl: app.restPort === undefined ? '' : `http://127.0.0.1:${app.restPort}`,
    async close() {
      client.close();
      await app.shutdown(1000);
    },
  };
}
