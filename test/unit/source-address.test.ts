import { sourceKey } from '../../src/net/source-address';

describe('sourceKey', () => {
  it('keeps an IPv4 address, also when it arrives IPv4-mapped', () => {
    expect(sourceKey('10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('::FFFF:127.0.0.2')).toBe('127.0.0.2');
  });

  it('counts an IPv6 address by its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64';
    expect(sourceKey('2001:db8:0:1::1')).toBe(key);
    expect(sourceKey('2001:0db8:0000:0001:ffff:ffff:ffff:ffff')).toBe(key);
    expect(sourceKey('2001:db8::1:0:0:0:7')).toBe(key);
    expect(sourceKey('2001:db8:0:2::1')).not.toBe(key);
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('has no key without an address', () => {
    expect(sourceKey(undefined)).toBeUndefined();
    expect(sourceKey('')).toBeUndefined();
  });
});
