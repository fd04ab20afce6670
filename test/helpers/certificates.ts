import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
 * A throwaway CA with a server certificate for `localhost` and a client certificate, made with
 * the openssl command (a Debian package the CI installs).
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-pki-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
    ...['-keyout', f('ca.key'), '-out', f('ca.pem'), '-subj', '/CN=routeguide test CA'],
  );
  const issue = (name: string, cn: string, extensions: string) => {
    writeFileSync(f(`${name}.ext`), extensions);
    openssl(
      ...['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`)],
      ...['-out', f(`${name}.csr`), '-subj', `/CN=${cn}`],
    );
    openssl(
      ...['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key')],
      ...['-CAcreateserial', '-days', '1', '-out', f(`${name}.pem`), '-extfile', f(`${name}.ext`)],
    );
  };
  issue('server', 'localhost', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 'routeguide-client', 'extendedKeyUsage=clientAuth\n');
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
