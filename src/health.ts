import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/**
 * `grpc.health.v1.Health` for a fixed set of service names (`""` is the whole server, what
 * Kubernetes' gRPC probe asks). Every name starts NOT_SERVING; any other name is NOT_FOUND
 * for Check and SERVICE_UNKNOWN for Watch.
 */
export class ServerHealth {
  private readonly implementation: HealthImplementation;
  private current: ServingStatus = 'NOT_SERVING';

  constructor(private readonly services: readonly string[]) {
    this.implementation = new HealthImplementation(
      Object.fromEntries(services.map((name) => [name, this.current])),
    );
  }

  /** The status every name currently reports. */
  get status(): ServingStatus {
    return this.current;
  }

  /** Sets every name at once; Watch clients see the change (and only changes). */
  setServing(serving: boolean): void {
    const next: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
    if (next === this.current) return;
    this.current = next;
    for (const name of this.services) this.implementation.setStatus(name, next);
  }

  addToServer(server: grpc.Server): void {
    this.implementation.addToServer(server);
  }
}
