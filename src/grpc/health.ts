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
  private readonly watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();

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

  /**
   * Ends every open Watch stream with OK. Called when draining starts, after the watchers have
   * seen NOT_SERVING: a Watch never ends by itself, so it would otherwise hold shutdown for the
   * whole grace period.
   */
  endWatches(): void {
    for (const call of this.watches) call.end();
    this.watches.clear();
  }

  addToServer(server: grpc.Server): void {
    // Registered through a shim so we can keep track of Watch calls (the library keeps them
    // private).
    this.implementation.addToServer({
      addService: (service, implementation) => {
        const watch = implementation['watch'] as grpc.handleServerStreamingCall<unknown, unknown>;
        server.addService(service as grpc.ServiceDefinition, {
          ...(implementation as grpc.UntypedServiceImplementation),
          watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
            this.watches.add(call);
            const forget = (): void => void this.watches.delete(call);
            call.once('cancelled', forget);
            call.once('finish', forget);
            watch(call);
          },
        });
      },
    });
  }
}
