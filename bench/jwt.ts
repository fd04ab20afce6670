import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const ISSUER = 'https://bench.issuer';
const AUDIENCE = 'routeguide';

/**
 * A JWT-verifying server's environment (an RS256 key in an AUTH_JWKS_FILE, as most identity
 * providers sign) and the `authorization` value of a valid read token: every call verifies
 * the signature with the cached key.
 */
export async function benchJwt(): Promise<{ env: Record<string, string>; authorization: string }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-bench-jwt-'));
  const file = path.join(dir, 'jwks.json');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  writeFileSync(file, JSON.stringify({ keys: [jwk] }));
  const token = await new SignJWT({ scope: 'routeguide.read', sub: 'bench-client' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1d')
    .sign(privateKey);
  return {
    env: { AUTH_JWKS_FILE: file, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE },
    authorization: `Bearer ${token}`,
  };
}
