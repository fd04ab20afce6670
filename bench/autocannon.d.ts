/** The part of autocannon's programmatic API the benchmark's REST load uses (autocannon ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Request {
      path: string;
      method?: string;
      headers?: Record<string, string>;
      /** Called with every response to this request, its whole body as a string. */
      onResponse?: (status: number, body: string) => void;
    }

    interface Options {
      url: string;
      connections?: number;
      /** Seconds; ignored when `amount` is set. */
      duration?: number;
      /** Requests in all: the run ends when each has its response. */
      amount?: number;
      /** Seconds a response may take. */
      timeout?: number;
      pipelining?: number;
      /** Milliseconds between samples; a count-bounded run ends at the first sample after its last response. */
      sampleInt?: number;
      headers?: Record<string, string>;
      requests?: Request[];
      skipAggregateResult?: boolean;
    }

    interface Result {
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      /** Seconds. */
      duration: number;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void;
      /** Every response: its client, HTTP status, bytes and time in milliseconds. */
      on(
        event: 'response',
        listener: (client: unknown, status: number, bytes: number, ms: number) => void,
      ): this;
      on(event: 'reqError', listener: (error: Error) => void): this;
      on(event: 'done', listener: (result: Result) => void): this;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
