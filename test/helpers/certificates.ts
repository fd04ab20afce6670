import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The script that writes the PEM files (@peculiar/x509 on Node's WebCrypto). */
const GENERATOR = path.join(__dirname, 'make-test-pki.js');

export interface TestPki {
  readonly dir: string;
  /** File paths of PEM material. */
  readonly files: {
    ca: string;
    serverCert: string;
    serverKey: string;
    clientCert: string;
    clientKey: string;
  };
  read(file: keyof TestPki['files']): Buffer;
  remove(): void;
}

/**
 * A throwaway CA with a server certificate for `localhost` (SAN DNS:localhost, serverAuth) and a
 * client certificate (clientAuth), EC P-256, valid for a day. Made in Node alone (no openssl
 * binary): WebCrypto is asynchronous, so a child `node` runs test/helpers/make-test-pki.js and
 * this function stays synchronous (about 0.2 s).
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-pki-'));
  const f = (name: string) => path.join(dir, name);
  const child = spawnSync(process.execPath, [GENERATOR, dir], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (child.error !== undefined || child.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `test PKI generation failed (${child.error?.message ?? `exit ${child.status}`}): ${child.stderr}`,
    );
  }
  const files = {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
  return {
    dir,
    files,
    read: (file) => readFileSync(files[file]),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
