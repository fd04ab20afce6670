import { isIPv6 } from 'node:net';

/** IPv6 groups kept by {@link sourceKey}: a /64, what one host or subscriber usually gets. */
const IPV6_PREFIX_GROUPS = 4;

/**
 * The key under which a peer's connections are counted together: an IPv4 address as is (also
 * when it arrives IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address by its /64 prefix, since one
 * client is usually handed a whole /64 and could otherwise take a fresh address per connection.
 * `undefined` without an address (a Unix socket, or a socket already closed).
 */
export function sourceKey(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${ipv6Groups(address).slice(0, IPV6_PREFIX_GROUPS).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lowercase hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const parts = (text: string): string[] =>
    text === ''
      ? []
      : text.split(':').flatMap((part) => (part.includes('.') ? ['0', '0'] : [part]));
  const front = parts(head);
  const back = tail === undefined ? [] : parts(tail);
  const middle = new Array<string>(8 - front.length - back.length).fill('0');
  return [...front, ...middle, ...back].map((group) => parseInt(group, 16).toString(16));
}
