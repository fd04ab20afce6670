import './alternative-resolver';
import dns2 from 'dns2';
import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { SPREAD_POINT } from '../../src/client/spread';
import { startTestServer, type TestServer } from '../helpers/server';
import { closeAll } from '../helpers/replicas';

jest.setTimeout(90_000);

const NAME = 'routeguide.lb.test';

/** A real DNS server on 127.0.0.1:0 answering A queries for NAME from a list we change. */
async function startDnsServer(): Promise<{
  port: number;
  addresses: string[];
  queries: string[];
  close(): Promise<void>;
}> {
  const addresses: string[] = [];
  const queries: string[] = [];
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = dns2.Packet.createResponseFromRequest(request);
      for (const question of request.questions) {
        queries.push(`${question.type}:${question.name}`);
        if (question.name === NAME && question.type === dns2.Packet.TYPE.A) {
          for (const address of addresses) {
            response.answers.push(
              dns2.Packet.createResourceFromQuestion(question, { ttl: 1, address }),
            );
          }
        }
      }
      send(response);
    },
  });
  const bound = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  return { port: bound.udp!.port, addresses, queries, close: () => server.close() };
}

describe('round robin over DNS', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Three replicas on one port of three loopback addresses, as Pods behind a headless Service. */
  async function startDnsReplicas(maxAgeMs: number): Promise<number> {
    const env = { MAX_CONNECTION_AGE_MS: String(maxAgeMs), MAX_CONNECTION_AGE_GRACE_MS: '1000' };
    const first = await startTestServer({ env: { ...env, REPLICA_ID: 'dns-1' } });
    const servers: TestServer[] = [first];
    cleanups.push(() => closeAll(servers));
    const port = first.app.port;
    for (const [i, host] of ['127.0.0.2', '127.0.0.3'].entries()) {
      servers.push(
        await startTestServer({
          env: { ...env, HOST: host, PORT: String(port), REPLICA_ID: `dns-${i + 2}` },
        }),
      );
    }
    return port;
  }

  /** A client of NAME through our DNS server, and a call that counts who answered. */
  function dnsClient(dnsPort: number, port: number) {
    const client: RouteGuideClient = createRouteGuideClient({
      target: `dns://127.0.0.1:${dnsPort}/${NAME}:${port}`,
      // The default (30 s) would make the test slower, not different.
      channelOptions: { 'grpc.dns_min_time_between_resolutions_ms': 200 },
    });
    cleanups.push(() => client.close());
    const seen = new Map<string, number>();
    const call = async () => {
      const { replica } = await client.getFeature(SPREAD_POINT);
      seen.set(replica ?? '?', (seen.get(replica ?? '?') ?? 0) + 1);
      return replica;
    };
    return { seen, call };
  }

  /** Calls every 20 ms until `replica` answers or `timeoutMs` passes; returns the wait or undefined. */
  async function callUntil(
    call: () => Promise<string | undefined>,
    replica: string,
    timeoutMs: number,
  ): Promise<number | undefined> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if ((await call()) === replica) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return undefined;
  }

  it('reaches a replica added to the DNS answer once max_connection_age closes connections', async () => {
    const port = await startDnsReplicas(1000);
    const dns = await startDnsServer();
    cleanups.push(() => dns.close());
    dns.addresses.push('127.0.0.1', '127.0.0.2');
    const { seen, call } = dnsClient(dns.port, port);

    for (let i = 0; i < 100; i++) await call();
    expect([...seen.keys()].sort()).toEqual(['dns-1', 'dns-2']);
    expect(dns.queries).toContain(`${dns2.Packet.TYPE.A}:${NAME}`);

    dns.addresses.push('127.0.0.3');
    // Connections are at most a second old (plus grace), so a re-resolution comes soon; the
    // bound is generous for a loaded machine.
    const reachedAfterMs = await callUntil(call, 'dns-3', 30_000);
    expect(reachedAfterMs).toBeDefined();
    expect(seen.get('?')).toBeUndefined();
  });

  it('stays on the replicas it knows while its connections live (why max_connection_age matters)', async () => {
    const port = await startDnsReplicas(10 * 60_000);
    const dns = await startDnsServer();
    cleanups.push(() => dns.close());
    dns.addresses.push('127.0.0.1', '127.0.0.2');
    const { seen, call } = dnsClient(dns.port, port);
    for (let i = 0; i < 100; i++) await call();
    const queriesBefore = dns.queries.length;

    dns.addresses.push('127.0.0.3');
    // Nothing makes grpc-js resolve again: healthy connections never ask, so the new replica
    // gets nothing for as long as we look.
    expect(await callUntil(call, 'dns-3', 3000)).toBeUndefined();
    expect([...seen.keys()].sort()).toEqual(['dns-1', 'dns-2']);
    expect(dns.queries.length).toBe(queriesBefore);
  });
});
