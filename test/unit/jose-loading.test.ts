import { generateKeyPair, SignJWT, jwtVerify } from 'jose';

it('smoke', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwt = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  const { payload } = await jwtVerify(jwt, publicKey);
  expect(payload.sub).toBe('a');
});
