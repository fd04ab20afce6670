/**
 * Writes a throwaway PKI into the directory given as the only argument, with @peculiar/x509 on
 * Node's WebCrypto (no openssl binary): EC P-256 keys, ECDSA-SHA256 signatures, valid for a day.
 *
 *   ca.pem                    self-signed CA, "CN=routeguide test CA", basicConstraints CA:true
 *   server.pem, server.key    "CN=localhost", SAN DNS:localhost, extendedKeyUsage serverAuth
 *   client.pem, client.key    "CN=routeguide-client", extendedKeyUsage clientAuth
 *
 * Keys are unencrypted PKCS#8 PEM ("PRIVATE KEY"). WebCrypto is asynchronous, so
 * test/helpers/certificates.ts runs this script as a child process to stay synchronous.
 */
const { webcrypto } = require('node:crypto');
const { Buffer } = require('node:buffer');
const { writeFileSync } = require('node:fs');
const path = require('node:path');
// tsyringe, which @peculiar/x509 uses, needs the Reflect metadata polyfill loaded first.
require('reflect-metadata');
const x509 = require('@peculiar/x509');

const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

function pemKey(pkcs8) {
  const b64 = Buffer.from(pkcs8).toString('base64');
  return `-----BEGIN PRIVATE KEY-----\n${b64.replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

function serial() {
  // Positive, non-zero, 16 bytes: a leading 0x01 byte keeps the DER integer positive.
  return `01${Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString('hex')}`;
}

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: make-test-pki.js DIR');
  // A little in the past, so a peer whose clock lags a few minutes still accepts it.
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(Date.now() + DAY_MS);

  const caKeys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const caName = 'CN=routeguide test CA';
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  writeFileSync(path.join(dir, 'ca.pem'), ca.toString('pem') + '\n');

  const issue = async (name, cn, usage, extraExtensions) => {
    const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${cn}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ...extraExtensions,
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    writeFileSync(path.join(dir, `${name}.pem`), cert.toString('pem') + '\n');
    writeFileSync(path.join(dir, `${name}.key`), pemKey(pkcs8), { mode: 0o600 });
  };
  await issue('server', 'localhost', x509.ExtendedKeyUsage.serverAuth, [
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
  ]);
  await issue('client', 'routeguide-client', x509.ExtendedKeyUsage.clientAuth, []);
}

main().catch((error) => {
  process.stderr.write(`make-test-pki: ${error.stack ?? error}\n`);
  process.exit(1);
});
