/**
 * The library entry (`require('routeguide')`): the typed client and the server's composition
 * root. Importing it starts nothing; the server process is `dist/main.js` (`npm start`, the
 * container's entry point).
 */
import { loadConfig, type Config } from './config';
import { createLogger, type Logger } from './observability/logging';
import { loadFeatureDatabase } from './routeguide/features';
import { RouteGuideApp } from './server';

export {
  createRouteGuideClient,
  RouteGuideClient,
  type Answered,
  type CallOptions,
  type HealthStatus,
  type RouteGuideClientOptions,
} from './client/client';
export type { TlsOptions } from './client/credentials';
export type { RetryOptions } from './client/service-config';
export { ConfigError, loadConfig, type Config } from './config';
export { FeatureDatabase, FeatureDatabaseError, loadFeatureDatabase } from './routeguide/features';
export { HEALTH_SERVICE_NAMES, RouteGuideApp, type RouteGuideAppOptions } from './server';

/** Options for {@link createRouteGuideApp}. */
export interface CreateRouteGuideAppOptions {
  /** Environment to read the configuration from (see the README). Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: a JSON logger on stdout at the configured `LOG_LEVEL`. */
  readonly logger?: Logger;
}

/**
 * Builds a server the way `main.ts` does — configuration from the environment, the feature
 * database loaded and validated — without binding anything: call `listen()` to serve and
 * `shutdown()` to stop. Throws ConfigError or FeatureDatabaseError on bad input.
 */
export function createRouteGuideApp(options: CreateRouteGuideAppOptions = {}): RouteGuideApp {
  const config: Config = loadConfig(options.env ?? process.env);
  const logger = options.logger ?? createLogger(config.logLevel);
  const features = loadFeatureDatabase(config.featuresFile);
  return new RouteGuideApp({ config, logger, features });
}
