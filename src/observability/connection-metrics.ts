import { Counter, Gauge, type Registry } from 'prom-client';
import { CONNECTION_GUARD_REASONS, type ConnectionGuard } from '../net/connection-guard';

/**
 * Exports the connection guards' counts, read at every scrape, into `registry`:
 * - `routeguide_connections_open{port}`: TCP connections open on each guarded port;
 * - `routeguide_connections_closed_total{port,reason}`: connections a guard closed, by reason
 *   (`handshake_timeout`, `idle`, `limit`: refused at accept because the port was full,
 *   `address_limit`: because its source address held its share, `half_closed`).
 */
export function addConnectionMetrics(registry: Registry, guards: readonly ConnectionGuard[]): void {
  const registers = [registry];
  new Gauge({
    name: 'routeguide_connections_open',
    help: 'TCP connections open, by port.',
    labelNames: ['port'],
    registers,
    collect() {
      for (const guard of guards) this.set({ port: guard.port }, guard.open);
    },
  });
  new Counter({
    name: 'routeguide_connections_closed_total',
    help: 'Connections closed by the connection guard, by port and reason.',
    labelNames: ['port', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const guard of guards) {
        for (const reason of CONNECTION_GUARD_REASONS) {
          this.inc({ port: guard.port, reason }, guard.closed(reason));
        }
      }
    },
  });
}
