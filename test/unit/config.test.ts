import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { BUNDLED_FEATURES_FILE } from '../../src/routeguide/bundled-features';

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 50051,
      featuresFile: BUNDLED_FEATURES_FILE,
      logLevel: 'info',
      notes: { maxPerLocation: 100, maxTotal: 100_000, maxTotalChars: 16 * 1024 * 1024 },
    });
    expect(config.replicaId.length).toBeGreaterThan(0);
    expect(path.basename(BUNDLED_FEATURES_FILE)).toBe('route_guide_db.json');
  });

  it('reads every variable and freezes the result', () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '6000',
      FEATURES_FILE: 'x.json',
      LOG_LEVEL: 'debug',
      REPLICA_ID: 'r1',
      NOTES_MAX_PER_LOCATION: '3',
      NOTES_MAX_TOTAL: '4',
      NOTES_MAX_TOTAL_CHARS: '5',
    });
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 6000,
      featuresFile: path.resolve('x.json'),
      logLevel: 'debug',
      replicaId: 'r1',
      notes: { maxPerLocation: 3, maxTotal: 4, maxTotalChars: 5 },
      connections: {
        maxAgeMs: 30_000,
        keepaliveTimeMs: 60_000,
        keepaliveTimeoutMs: 20_000,
        maxReceiveMessageBytes: 1024 * 1024,
        maxConcurrentStreams: 128,
        maxConnections: 1000,
        maxConnectionsPerAddress: 500,
        handshakeTimeoutMs: 5000,
        idleTimeoutMs: 300_000,
      },
      admission: {
        maxCalls: 1000,
        maxCallsPerConnection: 100,
        pushbackMs: 250,
        memorySoftPercent: 60,
        memoryHardPercent: 75,
      },
      metrics: { enabled: true, port: 9464 },
      reflection: true,
      authReflection: false,
      orca: { enabled: true, minReportIntervalMs: 1000 },
      shutdown: { delayMs: 0, graceMs: 10_000 },
      rest: {
        port: 8080,
        maxConnections: 1000,
        maxConnectionsPerAddress: 500,
        maxBodyBytes: 1024 * 1024,
        corsOrigins: [],
      },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.notes)).toBe(true);
  });

  it('reads the overload protection variables (memory budget: unset = the cgroup limit, 0 = none)', () => {
    const config = loadConfig({
      MAX_STREAMING_CALLS: '50',
      MAX_STREAMING_CALLS_PER_CONNECTION: '5',
      RETRY_PUSHBACK_MS: '0',
      MEMORY_LIMIT_BYTES: '268435456',
      MEMORY_SOFT_PERCENT: '50',
      MEMORY_HARD_PERCENT: '50',
    });
    expect(config.admission).toEqual({
      maxCalls: 50,
      maxCallsPerConnection: 5,
      pushbackMs: 0,
      memoryLimitBytes: 268435456,
      memorySoftPercent: 50,
      memoryHardPercent: 50,
    });
    expect(loadConfig({ MEMORY_LIMIT_BYTES: '0' }).admission.memoryLimitBytes).toBe(0);
    expect(loadConfig({}).admission.memoryLimitBytes).toBeUndefined();
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(50051);
  });

  it.each([
    [{ PORT: 'abc' }, /PORT="abc": must be an integer/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ PORT: '1.5' }, /PORT="1.5"/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud"/],
    [{ NOTES_MAX_TOTAL: '0' }, /NOTES_MAX_TOTAL="0"/],
    [{ METRICS: 'maybe' }, /METRICS="maybe": must be true or false/],
    [{ METRICS_PORT: '-1' }, /METRICS_PORT="-1"/],
    [{ SHUTDOWN_GRACE_MS: 'soon' }, /SHUTDOWN_GRACE_MS="soon"/],
    [{ ORCA: 'on' }, /ORCA="on": must be true or false/],
    [{ ORCA_MIN_REPORT_INTERVAL_MS: '10' }, /ORCA_MIN_REPORT_INTERVAL_MS="10"/],
    [{ MAX_STREAMING_CALLS: '0' }, /MAX_STREAMING_CALLS="0"/],
    [{ MAX_STREAMING_CALLS_PER_CONNECTION: 'many' }, /MAX_STREAMING_CALLS_PER_CONNECTION="many"/],
    [{ MEMORY_LIMIT_BYTES: '-1' }, /MEMORY_LIMIT_BYTES="-1"/],
    [{ MEMORY_HARD_PERCENT: '101' }, /MEMORY_HARD_PERCENT="101"/],
    [
      { MEMORY_SOFT_PERCENT: '80' },
      /MEMORY_SOFT_PERCENT="80": must not exceed MEMORY_HARD_PERCENT/,
    ],
    [{ TLS_CERT_FILE: 'c.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
    [{ TLS_KEY_FILE: 'k.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
    [{ TLS_CLIENT_CA_FILE: 'ca.pem' }, /TLS_CLIENT_CA_FILE.*need TLS_CERT_FILE and TLS_KEY_FILE/],
    [
      { GATEWAY_TARGET_CERT_FILE: 'c.pem' },
      /GATEWAY_TARGET_KEY_FILE=.*GATEWAY_TARGET_CERT_FILE and GATEWAY_TARGET_KEY_FILE must be set together/,
    ],
    [
      { GATEWAY_TARGET_KEY_FILE: 'k.pem' },
      /GATEWAY_TARGET_CERT_FILE and GATEWAY_TARGET_KEY_FILE must be set together/,
    ],
    [
      { GATEWAY_TARGET_TLS: 'false', GATEWAY_TARGET_CA_FILE: 'ca.pem' },
      /GATEWAY_TARGET_TLS="false": is false but GATEWAY_TARGET_CA_FILE/,
    ],
    [{ GATEWAY_TARGET_TLS: 'yes' }, /GATEWAY_TARGET_TLS="yes": must be true or false/],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  describe("the standalone gateway's TLS to its target", () => {
    it('is off by default and with GATEWAY_TARGET_TLS=false', () => {
      expect(loadConfig({ GATEWAY_TARGET: 'dns:///x:1' }).gatewayTargetTls).toBeUndefined();
      expect(loadConfig({ GATEWAY_TARGET_TLS: 'false' }).gatewayTargetTls).toBeUndefined();
    });

    it('GATEWAY_TARGET_TLS=true alone: the bundled public roots', () => {
      expect(loadConfig({ GATEWAY_TARGET_TLS: 'true' }).gatewayTargetTls).toEqual({});
    });

    it('reads the files (resolved) and the server name; any of them implies TLS', () => {
      expect(
        loadConfig({
          GATEWAY_TARGET_CA_FILE: 'ca.pem',
          GATEWAY_TARGET_CERT_FILE: 'c.pem',
          GATEWAY_TARGET_KEY_FILE: 'k.pem',
          GATEWAY_TARGET_SERVER_NAME: ' routeguide ',
        }).gatewayTargetTls,
      ).toEqual({
        caFile: path.resolve('ca.pem'),
        certFile: path.resolve('c.pem'),
        keyFile: path.resolve('k.pem'),
        serverName: 'routeguide',
      });
      expect(loadConfig({ GATEWAY_TARGET_SERVER_NAME: 'rg' }).gatewayTargetTls).toEqual({
        serverName: 'rg',
      });
    });
  });

  it('reads the operability variables', () => {
    const config = loadConfig({
      METRICS: 'false',
      METRICS_PORT: '0',
      REFLECTION: 'FALSE',
      ORCA: 'false',
      ORCA_MIN_REPORT_INTERVAL_MS: '30000',
      SHUTDOWN_DELAY_MS: '5000',
      SHUTDOWN_GRACE_MS: '0',
      TLS_CERT_FILE: 'c.pem',
      TLS_KEY_FILE: 'k.pem',
      TLS_CLIENT_CA_FILE: 'ca.pem',
      AUTH_TOKEN: ' t o k ',
    });
    expect(config).toMatchObject({
      metrics: { enabled: false, port: 0 },
      reflection: false,
      orca: { enabled: false, minReportIntervalMs: 30_000 },
      shutdown: { delayMs: 5000, graceMs: 0 },
      tls: {
        certFile: path.resolve('c.pem'),
        keyFile: path.resolve('k.pem'),
        clientCaFile: path.resolve('ca.pem'),
      },
      // Tokens are taken verbatim.
      authToken: ' t o k ',
    });
    expect(loadConfig({ METRICS: '1', REFLECTION: '0' })).toMatchObject({
      metrics: { enabled: true },
      reflection: false,
    });
    const plain = loadConfig({});
    expect(plain.tls).toBeUndefined();
    expect(plain.authToken).toBeUndefined();
    expect(loadConfig({ TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k' }).tls).toEqual({
      certFile: path.resolve('c'),
      keyFile: path.resolve('k'),
      reloadIntervalMs: 5000,
    });
    expect(loadConfig({ HEALTH_PORT: '8081' }).healthPort).toBe(8081);
    expect(plain.healthPort).toBeUndefined();
    expect(plain.connections.maxAgeGraceMs).toBeUndefined();
  });

  it('reads the connection guard variables', () => {
    expect(
      loadConfig({
        MAX_CONNECTIONS: '50',
        CONNECTION_HANDSHAKE_TIMEOUT_MS: '250',
        CONNECTION_IDLE_TIMEOUT_MS: '60000',
      }).connections,
    ).toMatchObject({
      maxConnections: 50,
      maxConnectionsPerAddress: 25,
      handshakeTimeoutMs: 250,
      idleTimeoutMs: 60_000,
    });
    // Half the cap, rounded up, unless set.
    expect(loadConfig({ MAX_CONNECTIONS: '7' }).connections.maxConnectionsPerAddress).toBe(4);
    expect(
      loadConfig({ MAX_CONNECTIONS_PER_ADDRESS: '1000' }).connections.maxConnectionsPerAddress,
    ).toBe(1000);
    for (const name of [
      'MAX_CONNECTIONS',
      'MAX_CONNECTIONS_PER_ADDRESS',
      'REST_MAX_CONNECTIONS_PER_ADDRESS',
      'CONNECTION_HANDSHAKE_TIMEOUT_MS',
      'CONNECTION_IDLE_TIMEOUT_MS',
    ]) {
      expect(() => loadConfig({ [name]: '0' })).toThrow(new RegExp(`${name}="0"`));
    }
  });

  it('reads the REST gateway variables', () => {
    expect(loadConfig({}).rest).toEqual({
      port: 8080,
      maxConnections: 1000,
      maxConnectionsPerAddress: 500,
      maxBodyBytes: 1024 * 1024,
      corsOrigins: [],
    });
    expect(
      loadConfig({
        REST_PORT: '0',
        REST_MAX_CONNECTIONS: '10',
        REST_MAX_CONNECTIONS_PER_ADDRESS: '3',
        REST_MAX_BODY_BYTES: '4096',
        REST_CORS_ORIGINS: ' https://a.example , http://localhost:3000,',
      }).rest,
    ).toEqual({
      port: 0,
      maxConnections: 10,
      maxConnectionsPerAddress: 3,
      maxBodyBytes: 4096,
      corsOrigins: ['https://a.example', 'http://localhost:3000'],
    });
    expect(loadConfig({ REST_CORS_ORIGINS: '*' }).rest?.corsOrigins).toEqual(['*']);
    expect(loadConfig({ REST: 'false' }).rest).toBeUndefined();
    expect(() => loadConfig({ REST_PORT: '70000' })).toThrow(/REST_PORT="70000"/);
    expect(() => loadConfig({ REST_MAX_BODY_BYTES: '0' })).toThrow(/REST_MAX_BODY_BYTES="0"/);
    expect(() => loadConfig({ REST_CORS_ORIGINS: 'a.example' })).toThrow(
      /REST_CORS_ORIGINS="a.example": each origin must be/,
    );
  });

  it('never echoes AUTH_TOKEN in an error', () => {
    expect(() => loadConfig({ AUTH_TOKEN: 'secret-value', PORT: 'x' })).not.toThrow(/secret-value/);
  });

  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT=.*LOG_LEVEL=/);
  });

  it('keeps notes in memory unless REDIS_URL is set, with Redis defaults', () => {
    expect(loadConfig({}).redis).toBeUndefined();
    expect(loadConfig({ REDIS_URL: '' }).redis).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379/0' }).redis).toEqual({
      url: 'redis://cache:6379/0',
      cluster: false,
      keyPrefix: 'routeguide:',
      ttlSeconds: 86_400,
      commandTimeoutMs: 2000,
    });
    expect(
      loadConfig({
        REDIS_URL: 'rediss://user:pw@cache.example.com:6380/2',
        REDIS_KEY_PREFIX: 'rg-prod:',
        REDIS_NOTES_TTL_SECONDS: '60',
        REDIS_COMMAND_TIMEOUT_MS: '500',
      }).redis,
    ).toEqual({
      url: 'rediss://user:pw@cache.example.com:6380/2',
      cluster: false,
      keyPrefix: 'rg-prod:',
      ttlSeconds: 60,
      commandTimeoutMs: 500,
    });
  });

  it('refuses a REDIS_URL that is not redis:// or rediss://, without echoing it', () => {
    for (const url of ['http://cache:6379', 'cache:6379', 'redis://', 'redis:// bad host']) {
      expect(() => loadConfig({ REDIS_URL: url })).toThrow(/REDIS_URL=<redacted>: must be a redis/);
    }
    expect(() => loadConfig({ REDIS_URL: 'http://u:hunter2@cache' })).not.toThrow(/hunter2/);
    expect(() => loadConfig({ REDIS_URL: 'redis://cache', REDIS_COMMAND_TIMEOUT_MS: '0' })).toThrow(
      /REDIS_COMMAND_TIMEOUT_MS/,
    );
  });

  it('REDIS_CLUSTER makes REDIS_URL the seed node of a Redis Cluster (database 0 only)', () => {
    for (const url of ['redis://node-0:6379', 'redis://node-0:6379/', 'rediss://u:pw@node-0/0']) {
      expect(loadConfig({ REDIS_URL: url, REDIS_CLUSTER: 'true' }).redis).toMatchObject({
        url,
        cluster: true,
      });
    }
    expect(loadConfig({ REDIS_URL: 'redis://n:6379', REDIS_CLUSTER: '0' }).redis?.cluster).toBe(
      false,
    );
    expect(() => loadConfig({ REDIS_CLUSTER: 'true' })).toThrow(
      /REDIS_CLUSTER="true": cluster mode needs REDIS_URL/,
    );
    expect(() =>
      loadConfig({ REDIS_URL: 'redis://u:hunter2@node-0:6379/2', REDIS_CLUSTER: 'true' }),
    ).toThrow(/REDIS_URL=<redacted>: Redis Cluster has only database 0/);
    expect(() =>
      loadConfig({ REDIS_URL: 'redis://u:hunter2@node-0:6379/2', REDIS_CLUSTER: 'true' }),
    ).not.toThrow(/hunter2/);
    expect(() => loadConfig({ REDIS_URL: 'redis://n', REDIS_CLUSTER: 'yes' })).toThrow(
      /REDIS_CLUSTER="yes": must be true or false/,
    );
  });

  describe('JWT access tokens', () => {
    const jwt = { AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'routeguide' };

    it('is off by default; reflection open', () => {
      const config = loadConfig({});
      expect(config.jwt).toBeUndefined();
      expect(config.authReflection).toBe(false);
    });

    it('reads AUTH_JWKS_URL with the documented defaults', () => {
      const config = loadConfig({ AUTH_JWKS_URL: 'https://idp.example/jwks.json', ...jwt });
      expect(config.jwt).toEqual({
        jwksUrl: 'https://idp.example/jwks.json',
        issuer: 'https://idp.example',
        audience: 'routeguide',
        algorithms: ['RS256', 'ES256', 'EdDSA'],
        clockSkewSeconds: 60,
        scopes: {
          '/routeguide.RouteGuide/GetFeature': ['routeguide.read'],
          '/routeguide.RouteGuide/ListFeatures': ['routeguide.read'],
          '/routeguide.RouteGuide/RecordRoute': ['routeguide.write'],
          '/routeguide.RouteGuide/RouteChat': ['routeguide.write'],
        },
        maxTokenBytes: 8192,
        refreshMs: 600_000,
        minRefreshMs: 30_000,
        maxStaleMs: 86_400_000,
        fetchTimeoutMs: 5000,
      });
    });

    it('reads every JWT variable', () => {
      const config = loadConfig({
        AUTH_JWKS_FILE: 'keys/jwks.json',
        ...jwt,
        AUTH_ALGORITHMS: 'ES384, PS256',
        AUTH_CLOCK_SKEW_SECONDS: '5',
        AUTH_SCOPES:
          'GetFeature=geo.read geo.any, RouteChat=, /grpc.reflection.v1.ServerReflection/ServerReflectionInfo=admin',
        AUTH_MAX_TOKEN_BYTES: '4096',
        AUTH_JWKS_REFRESH_MS: '60000',
        AUTH_JWKS_MIN_REFRESH_MS: '1000',
        AUTH_JWKS_MAX_STALE_MS: '3600000',
        AUTH_JWKS_FETCH_TIMEOUT_MS: '2000',
        AUTH_REFLECTION: 'true',
      });
      expect(config.authReflection).toBe(true);
      expect(config.jwt).toMatchObject({
        jwksFile: path.resolve('keys/jwks.json'),
        algorithms: ['ES384', 'PS256'],
        clockSkewSeconds: 5,
        scopes: {
          '/routeguide.RouteGuide/GetFeature': ['geo.read', 'geo.any'],
          '/routeguide.RouteGuide/ListFeatures': ['routeguide.read'],
          '/routeguide.RouteGuide/RouteChat': [],
          '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo': ['admin'],
        },
        maxTokenBytes: 4096,
        refreshMs: 60_000,
        minRefreshMs: 1000,
        maxStaleMs: 3_600_000,
        fetchTimeoutMs: 2000,
      });
      expect(loadConfig({ AUTH_HS256_SECRET: 'x'.repeat(32), ...jwt }).jwt).toMatchObject({
        hs256Secret: 'x'.repeat(32),
      });
    });

    it.each([
      [
        { AUTH_JWKS_URL: 'https://idp/jwks', AUTH_AUDIENCE: 'a' },
        /AUTH_ISSUER=.*needs AUTH_ISSUER/,
      ],
      [
        { AUTH_JWKS_URL: 'https://idp/jwks', AUTH_ISSUER: 'i' },
        /AUTH_AUDIENCE=.*needs AUTH_AUDIENCE/,
      ],
      [
        { AUTH_JWKS_URL: 'ftp://idp/jwks', ...jwt },
        /AUTH_JWKS_URL="ftp:\/\/idp\/jwks": must be an http\(s\) URL/,
      ],
      [{ AUTH_JWKS_URL: 'https://idp/jwks', AUTH_JWKS_FILE: 'f', ...jwt }, /not both/],
      [{ AUTH_ALGORITHMS: 'RS256,HS256' }, /AUTH_ALGORITHMS=.*HS256 needs AUTH_HS256_SECRET/],
      [{ AUTH_ALGORITHMS: 'none' }, /AUTH_ALGORITHMS="none"/],
      [{ AUTH_ALGORITHMS: ' , ' }, /AUTH_ALGORITHMS=.*at least one/],
      [{ AUTH_SCOPES: 'GetFeature' }, /AUTH_SCOPES=.*expected Method=scope/],
      [{ AUTH_SCOPES: 'GetFeature=a"b' }, /AUTH_SCOPES=.*not a valid scope/],
      [{ AUTH_MAX_TOKEN_BYTES: '100' }, /AUTH_MAX_TOKEN_BYTES="100"/],
      [{ AUTH_JWKS_MIN_REFRESH_MS: '700000' }, /AUTH_JWKS_MIN_REFRESH_MS=.*must not exceed/],
      [{ AUTH_HS256_SECRET: 'short', ...jwt }, /AUTH_HS256_SECRET=<redacted>: must be at least 32/],
    ])('rejects %j naming the variable', (env, message) => {
      expect(() => loadConfig(env)).toThrow(message);
    });
  });
});
