import type * as http from 'node:http';
import type { StatusJson } from './http-status';

/** Bytes of response text gathered before a write to the socket. */
const FLUSH_BYTES = 16 * 1024;

/** How a server stream's messages are framed on HTTP. */
export interface StreamFormat {
  readonly contentType: string;
  result(json: string): string;
  error(status: StatusJson): string;
  /** The text after the last message of a stream that ended OK. */
  readonly end: string;
}

/** grpc-gateway's newline-delimited JSON: `{"result":…}` lines, a final `{"error":…}` line on failure. */
export const NDJSON: StreamFormat = Object.freeze({
  contentType: 'application/x-ndjson',
  result: (json: string) => `{"result":${json}}\n`,
  error: (status: StatusJson) => `${JSON.stringify({ error: status })}\n`,
  end: '',
});

/**
 * Server-Sent Events: a `result` event per message, then `end` (or `error` with the status), so
 * an `EventSource` closes instead of reconnecting and running the call again.
 */
export const SERVER_SENT_EVENTS: StreamFormat = Object.freeze({
  contentType: 'text/event-stream',
  result: (json: string) => `event: result\ndata: ${json}\n\n`,
  error: (status: StatusJson) => `event: error\ndata: ${JSON.stringify(status)}\n\n`,
  end: 'event: end\ndata: {}\n\n',
});

/**
 * Writes a stream's text to an HTTP response in chunks of about {@link FLUSH_BYTES} (or at the
 * end of the event-loop turn), and passes the response's backpressure back: a message's `done`
 * is held while `res.write()` reports a full buffer, until 'drain'. The call's write buffer then
 * fills, its `write()` returns false and the handler waits, as with gRPC's flow control.
 */
export class StreamWriter {
  private pending = '';
  private blocked = false;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly response: http.ServerResponse) {}

  /** Bytes written or gathered and not yet taken by the socket. */
  get bufferedBytes(): number {
    return this.pending.length + this.response.writableLength;
  }

  write(text: string, done: () => void): void {
    this.pending += text;
    if (this.pending.length >= FLUSH_BYTES) this.flush();
    else if (this.scheduled === undefined && !this.blocked) {
      this.scheduled = setImmediate(() => {
        this.scheduled = undefined;
        this.flush();
      });
    }
    if (this.blocked) this.waiting.push(done);
    else done();
  }

  /** Writes the gathered text and the last piece, and ends the response. */
  end(last: string): void {
    this.clear();
    this.response.end(this.pending + last);
    this.pending = '';
  }

  /** Drops what is gathered (the response is being destroyed). */
  clear(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
  }

  private flush(): void {
    if (this.pending === '' || this.blocked || this.response.destroyed) return;
    const ok = this.response.write(this.pending);
    this.pending = '';
    if (ok) return;
    this.blocked = true;
    this.response.once('drain', () => {
      this.blocked = false;
      this.flush();
      if (this.blocked) return;
      for (const done of this.waiting.splice(0)) done();
    });
  }
}
