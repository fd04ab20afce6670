import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { probeHealth } from '../../src/healthcheck';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { getFeature } from '../helpers/calls';
import { scrape } from '../helpers/ops';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { rawConnect, within, type RawSocket } from '../helpers/raw-connections';
import { connect, encodePoint, frame, rawCall } from '../helpers/raw-grpc';

const ATTACKERS = Number(process.env['STRESS_FLOOD_CONNECTIONS'] ?? 10_000);
const HANDSHAKE_MS = 3000;
const KNOWN_POINT = { latitude: 409146138, longitude: -746188906 };
const MB = 1024 * 1024;
/** The attacker's source address: another loopback address than the clients' 127.0.0.1. */
const ATTACKER_ADDRESS = '127.0.0.2';

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

describe('connection flood against dist/main.js', () => {
  let server: ServerProcess | undefined;
  afterEach(() => server?.kill());

  it(`${ATTACKERS} preface-less sockets: bounded RSS, calls keep succeeding, all closed by the deadline`, async () => {
    server = spawnServer({
      HEALTH_PORT: '0',
      CONNECTION_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS),
    });
    const port = await servingPort(server);
    const serving = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    const pid = server.child.pid!;
    const { proto } = loadRouteGuideProto();
    const client = new proto.routeguide.RouteGuide(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
    try {
      await getFeature(client, KNOWN_POINT);
      const rssBefore = rssBytes(pid);
      let peakRss = rssBefore;
      let calls = 0;
      const failures: string[] = [];
      let attacking = true;
      // The well-behaved client calls throughout, on the connection it already has, and a
      // newcomer connects afresh for each of its calls.
      let freshCalls = 0;
      const freshFailures: string[] = [];
      const caller = (async () => {
        while (attacking) {
          try {
            await getFeature(client, KNOWN_POINT);
            calls++;
          } catch (error) {
            failures.push((error as Error).message);
          }
          try {
            await freshGetFeature(`127.0.0.1:${port}`);
            freshCalls++;
          } catch (error) {
            freshFailures.push((error as Error).message);
          }
          peakRss = Math.max(peakRss, rssBytes(pid));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();

      const attackers: RawSocket[] = [];
      const started = Date.now();
      for (let opened = 0; opened < ATTACKERS;) {
        const batch = Math.min(500, ATTACKERS - opened);
        const sockets = await Promise.all(
          Array.from({ length: batch }, () =>
            rawConnect(port, ATTACKER_ADDRESS).catch(() => undefined),
          ),
        );
        for (const socket of sockets) if (socket !== undefined) attackers.push(socket);
        opened += batch;
      }
      const openedMs = Date.now() - started;
      expect(await probeHealth({ port: serving['healthPort'] as number, timeoutMs: 3000 })).toBe(
        'SERVING',
      );
      const heldAfterOpen = attackers.filter((a) => !a.isClosed()).length;
      // Every attacker socket closes by itself: at once over the cap, else at the deadline.
      const closedAll = await within(
        Promise.all(attackers.map((a) => a.closed)),
        HANDSHAKE_MS + 10_000,
      );
      attacking = false;
      await caller;
      const metrics = await scrape(serving['metricsPort'] as number);
      const closedBy = (reason: string) =>
        metrics.value('routeguide_connections_closed_total', { port: 'grpc', reason });
      console.log(
        [
          `${ATTACKERS} sockets opened in ${openedMs} ms (${attackers.length} connected), `,
          `${heldAfterOpen} held after the flood; closed: limit ${closedBy('limit')}, `,
          `address_limit ${closedBy('address_limit')}, `,
          `handshake_timeout ${closedBy('handshake_timeout')}; `,
          `RSS ${Math.round(rssBefore / MB)} MB before, peak ${Math.round(peakRss / MB)} MB; `,
          `${calls} GetFeature calls succeeded during the flood, ${failures.length} failed; `,
          `on new connections ${freshCalls} succeeded, ${freshFailures.length} failed`,
        ].join(''),
      );
      expect(closedAll).toBeDefined();
      expect(failures).toEqual([]);
      expect(calls).toBeGreaterThan(10);
      expect(peakRss).toBeLessThan(200 * MB);
      // New connections from other addresses get in while the attacker holds its share.
      expect(freshFailures).toEqual([]);
      expect(freshCalls).toBeGreaterThan(10);
      const byGuard = closedBy('limit') + closedBy('address_limit') + closedBy('handshake_timeout');
      expect(byGuard).toBeGreaterThanOrEqual(attackers.length);
      expect(closedBy('address_limit')).toBeGreaterThan(0);
      expect(metrics.value('routeguide_connections_open', { port: 'grpc' })).toBe(1);
      // And the port accepts new clients again.
      const fresh = new proto.routeguide.RouteGuide(
        `127.0.0.1:${port}`,
        grpc.credentials.createInsecure(),
      );
      try {
        await getFeature(fresh, KNOWN_POINT);
      } finally {
        fresh.close();
      }
    } finally {
      client.close();
    }
  }, 120_000);
});

/** One GetFeature on a connection of its own, closed after the call. */
async function freshGetFeature(address: string): Promise<void> {
  const session = await connect(address);
  session.on('error', () => undefined);
  try {
    const body = frame(Buffer.from(encodePoint(KNOWN_POINT)));
    const outcome = await rawCall(session, '/routeguide.RouteGuide/GetFeature', body, {
      timeoutMs: 5000,
    });
    if (outcome.grpcStatus !== 0) throw new Error(`grpc-status ${String(outcome.grpcStatus)}`);
  } finally {
    session.destroy();
  }
}
