import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { NotesUnavailableError, type Note, type NotesStore } from '../routeguide/notes';

/** Options of {@link NotesStoreMetrics}. */
export interface NotesStoreMetricsOptions {
  /** The registry the metrics go into (the app's, served on /metrics). Required. */
  readonly registry: Registry;
  /** The `store` label: `memory` or `redis`. Required. */
  readonly store: string;
}

/**
 * Metrics of the RouteChat notes store, in the app's registry:
 * - `routeguide_notes_store_operation_seconds{store,operation}`: latency of each store
 *   operation (one per RouteChat note), failed ones included;
 * - `routeguide_notes_store_errors_total{store,kind}`: failed operations by kind
 *   (`unreachable`, `disconnected`, `timeout`, `error`, or `internal` for anything else);
 * - `routeguide_notes_store_up{store}` (when a connection state is given): 1 while connected.
 */
export class NotesStoreMetrics {
  private readonly latency: Histogram.Internal<'store' | 'operation'>;
  private readonly errors: Counter<'store' | 'kind'>;
  private readonly store: string;
  private readonly registry: Registry;

  constructor(options: NotesStoreMetricsOptions) {
    this.store = options.store;
    this.registry = options.registry;
    const registers = [options.registry];
    this.latency = new Histogram({
      name: 'routeguide_notes_store_operation_seconds',
      help: 'Latency of RouteChat notes store operations (one per note), failures included.',
      labelNames: ['store', 'operation'],
      buckets: [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5,
      ],
      registers,
    }).labels({ store: this.store, operation: 'add' });
    this.errors = new Counter({
      name: 'routeguide_notes_store_errors_total',
      help: 'Failed RouteChat notes store operations, by kind.',
      labelNames: ['store', 'kind'],
      registers,
    });
    // Present from the start, so a rate() over it has a baseline.
    for (const kind of ['unreachable', 'disconnected', 'timeout', 'error', 'internal']) {
      this.errors.labels({ store: this.store, kind }).inc(0);
    }
  }

  /** A gauge that reads 1 while the store is connected to its backend. */
  addConnectedGauge(connected: () => boolean): void {
    const store = this.store;
    new Gauge({
      name: 'routeguide_notes_store_up',
      help: 'Whether the RouteChat notes store is connected to its backend (1) or not (0).',
      labelNames: ['store'],
      registers: [this.registry],
      collect() {
        this.set({ store }, connected() ? 1 : 0);
      },
    });
  }

  /** Wraps a store so that every operation is timed and every failure counted. */
  instrument(inner: NotesStore): NotesStore {
    return new MeteredNotesStore(inner, this.latency, (kind) =>
      this.errors.labels({ store: this.store, kind }).inc(),
    );
  }
}

class MeteredNotesStore implements NotesStore {
  constructor(
    private readonly inner: NotesStore,
    private readonly latency: Histogram.Internal<'store' | 'operation'>,
    private readonly failed: (kind: string) => void,
  ) {}

  get size(): number | undefined {
    return this.inner.size;
  }

  async add(note: Note): Promise<Note[]> {
    const stop = this.latency.startTimer();
    try {
      return await this.inner.add(note);
    } catch (error) {
      this.failed(error instanceof NotesUnavailableError ? error.kind : 'internal');
      throw error;
    } finally {
      stop();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
