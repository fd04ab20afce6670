import { VerifiedTokens } from '../../src/auth/verified-tokens';

describe('verified tokens', () => {
  const claims = { subject: 'alice', scopes: new Set(['routeguide.read']) };
  const keysA = {};
  const keysB = {};

  it('serve a token verified with the current key set until its exp', () => {
    let now = 1_000_000;
    const cache = new VerifiedTokens({ now: () => now });
    cache.set('t1', keysA, 1_060, claims); // exp 60 s after now
    expect(cache.get('t1', keysA)).toBe(claims);
    expect(cache.get('t2', keysA)).toBeUndefined();
    now = 1_059_999;
    expect(cache.get('t1', keysA)).toBe(claims);
    now = 1_060_000;
    expect(cache.get('t1', keysA)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('forget a token once the key set changes (a removed or rotated key)', () => {
    const cache = new VerifiedTokens({ now: () => 0 });
    cache.set('t1', keysA, 100, claims);
    expect(cache.get('t1', keysB)).toBeUndefined();
    expect(cache.get('t1', keysA)).toBeUndefined();
  });

  it('hold at most maxEntries tokens, the oldest forgotten first', () => {
    const cache = new VerifiedTokens({ maxEntries: 3, now: () => 0 });
    for (const token of ['a', 'b', 'c', 'd']) cache.set(token, keysA, 100, claims);
    expect(cache.size).toBe(3);
    expect(cache.get('a', keysA)).toBeUndefined();
    expect(cache.get('d', keysA)).toBe(claims);
  });
});
