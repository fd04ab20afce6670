import * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { onHttp2Session } from './http2-sessions';

/** Options for {@link ConnectionAge}. */
export interface ConnectionAgeOptions {
  /** A connection gets a GOAWAY at this age, ± 10% jitter so replicas' clients spread out. */
  readonly maxAgeMs: number;
  /**
   * After the GOAWAY, time the connection's calls get before it is closed hard. Default:
   * undefined, no limit (as in grpc-go): the connection closes once its last call ends.
   */
  readonly graceMs?: number;
}

/** GOAWAY debug data grpc-js and grpc-go send for max age. */
const MAX_AGE_DATA = Buffer.from('max_age');
/** The largest stream id: "no new streams, but every stream already started goes on". */
const LAST_STREAM_ID = 2 ** 31 - 1;

/**
 * Max connection age (GOAWAY, so round-robin clients re-resolve and rebalance) that lets the
 * streams already open finish: RouteChat, health Watch, a slow ListFeatures reader. The
 * connection is closed once its last stream has ended, or when `graceMs` (if set) runs out.
 * Used with {@link ServerKeepalive} rather than grpc-js's options: grpc-js's keepalive destroys
 * a connection as soon as it has exchanged a GOAWAY (see keepalive.ts).
 */
export class ConnectionAge {
  private readonly timers = new Map<http2.ServerHttp2Session, NodeJS.Timeout[]>();
  private stopped = false;

  constructor(private readonly options: ConnectionAgeOptions) {}

  /** Starts managing every connection the (bound) server accepts from now on. */
  attach(server: grpc.Server): void {
    onHttp2Session(server, (session) => this.manage(session));
  }

  /** Stops every pending timer (shutdown closes the connections itself). */
  stop(): void {
    this.stopped = true;
    for (const timers of this.timers.values()) for (const timer of timers) clearTimeout(timer);
    this.timers.clear();
  }

  private manage(session: http2.ServerHttp2Session): void {
    if (this.stopped) return;
    let open = 0;
    let draining = false;
    const closeIfDrained = (): void => {
      if (draining && open === 0 && !session.closed && !session.destroyed) session.close();
    };
    // A stream emits 'close' once: one listener per session serves all its streams.
    const closed = (): void => {
      open--;
      closeIfDrained();
    };
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      open++;
      stream.on('close', closed);
    });
    const { maxAgeMs, graceMs } = this.options;
    const jitter = (Math.random() * 2 - 1) * (maxAgeMs / 10);
    const timers: NodeJS.Timeout[] = [];
    this.timers.set(session, timers);
    session.once('close', () => {
      for (const timer of timers) clearTimeout(timer);
      this.timers.delete(session);
    });
    const ageTimer = setTimeout(() => {
      if (session.closed || session.destroyed) return;
      draining = true;
      try {
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, LAST_STREAM_ID, MAX_AGE_DATA);
      } catch {
        session.destroy();
        return;
      }
      closeIfDrained();
      if (graceMs !== undefined) {
        const graceTimer = setTimeout(() => session.destroy(), graceMs);
        graceTimer.unref();
        timers.push(graceTimer);
      }
    }, maxAgeMs + jitter);
    ageTimer.unref();
    timers.push(ageTimer);
  }
}
