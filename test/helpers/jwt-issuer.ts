import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'routeguide';

/** A signing key of the test identity provider. */
export interface TestKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256' | 'EdDSA';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** A fresh key pair with its public JWK (`kid`, `alg`, `use: sig`). */
export async function createKey(alg: TestKey['alg'], kid: string): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

/** Options of one minted token; every claim defaults to a valid one. */
export interface MintOptions {
  readonly sub?: string;
  readonly scope?: string;
  readonly claims?: JWTPayload;
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds from now; default 300. */
  readonly expiresIn?: number;
  /** Seconds from now. */
  readonly notBefore?: number;
  /** Omit `exp` altogether. */
  readonly noExpiry?: boolean;
  /** The header's `kid`; default the key's. */
  readonly kid?: string;
}

/** A signed access token as an identity provider would issue it. */
export async function mint(key: TestKey, options: MintOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({
    ...(options.scope !== undefined ? { scope: options.scope } : {}),
    ...options.claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'at+jwt' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject(options.sub ?? 'client-1')
    .setIssuedAt(now);
  if (!options.noExpiry) jwt = jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(key.privateKey);
}

/** base64url of a JSON value or a string. */
export function base64url(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return Buffer.from(text).toString('base64url');
}

/**
 * A JWKS endpoint on 127.0.0.1:0 serving the public halves of `keys`; `down` makes it answer
 * 503; `fetches` counts requests.
 */
export class JwksServer {
  keys: TestKey[];
  down = false;
  fetches = 0;
  private readonly server: Server;

  private constructor(keys: TestKey[]) {
    this.keys = keys;
    this.server = createServer((request, response) => {
      this.fetches++;
      if (this.down) {
        response.writeHead(503).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      response.end(JSON.stringify({ keys: this.keys.map((key) => key.publicJwk) }));
    });
  }

  static async start(keys: TestKey[]): Promise<JwksServer> {
    const jwks = new JwksServer(keys);
    await new Promise<void>((resolve) => jwks.server.listen(0, '127.0.0.1', resolve));
    return jwks;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The server env of JWT verification against `url`. */
export function jwtEnv(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AUTH_JWKS_URL: url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, ...extra };
}
