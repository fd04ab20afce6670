import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type {
  FloodSpec,
  FromWorker,
  LoadResult,
  LoadSpec,
  RestLoadSpec,
  SlowReadSpec,
  ToWorker,
} from './protocol';

/** Forked client processes (bench/worker.ts), each with at most one request outstanding. */
export class WorkerPool {
  private readonly workers: ChildProcess[];

  /** `cpu`: pin every worker to this CPU (taskset), away from the server's. */
  constructor(count: number, cpu?: number) {
    this.workers = Array.from({ length: count }, () =>
      fork(path.join(__dirname, 'worker.js'), [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        ...(cpu === undefined
          ? {}
          : { execPath: 'taskset', execArgv: ['-c', String(cpu), process.execPath] }),
      }),
    );
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Connects every worker to the server at `port`, or worker i to `port(i)` (waits until each
   * channel is ready).
   */
  async connect(port: number | ((worker: number) => number)): Promise<void> {
    await Promise.all(
      this.workers.map((w, i) =>
        this.request(
          w,
          { type: 'connect', port: typeof port === 'number' ? port : port(i) },
          40_000,
        ),
      ),
    );
  }

  /** Runs a load phase on every worker; `spec(i)` gives worker i its spec. */
  async load(spec: (worker: number) => LoadSpec): Promise<LoadResult[]> {
    return Promise.all(
      this.workers.map(async (w, i) => {
        const s = spec(i);
        const answer = await this.request(
          w,
          { type: 'load', spec: s },
          s.durationMs + s.callTimeoutMs + 30_000,
        );
        return (answer as { result: LoadResult }).result;
      }),
    );
  }

  /** Runs a REST slice on every worker (needs no `connect`); `spec(i)` gives worker i its spec. */
  async restLoad(spec: (worker: number) => RestLoadSpec): Promise<LoadResult[]> {
    return Promise.all(
      this.workers.map(async (w, i) => {
        const s = spec(i);
        // Bounded by count, not time: allow a generous rate floor before giving up on it.
        const answer = await this.request(
          w,
          { type: 'rest-load', spec: s },
          s.amount * 10 + s.callTimeoutMs + 30_000,
        );
        return (answer as { result: LoadResult }).result;
      }),
    );
  }

  /** One worker reads slowly; `onPaused` runs when it stops reading. */
  async slowRead(spec: SlowReadSpec, onPaused: () => void): Promise<LoadResult> {
    const answer = await this.request(
      this.workers[0]!,
      { type: 'slow-read', spec },
      spec.callTimeoutMs + 30_000,
      onPaused,
    );
    return (answer as { result: LoadResult }).result;
  }

  /** Every worker floods RouteChat; `spec(i)` gives worker i its share. */
  async flood(spec: (worker: number) => FloodSpec): Promise<LoadResult[]> {
    return Promise.all(
      this.workers.map(async (w, i) => {
        const s = spec(i);
        const answer = await this.request(w, { type: 'flood', spec: s }, s.callTimeoutMs + 30_000);
        return (answer as { result: LoadResult }).result;
      }),
    );
  }

  disconnect(): void {
    for (const w of this.workers)
      if (w.connected) w.send({ type: 'disconnect' } satisfies ToWorker);
  }

  /** Asks workers to exit, and kills any still running after a grace period. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const timer = setTimeout(() => w.kill('SIGKILL'), 5000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (w.connected) w.send({ type: 'exit' } satisfies ToWorker);
            else w.kill('SIGKILL');
          }),
      ),
    );
  }

  private request(
    worker: ChildProcess,
    message: ToWorker,
    timeoutMs: number,
    onPaused?: () => void,
  ): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`worker gave no answer to ${message.type} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onMessage = (answer: FromWorker): void => {
        if (answer.type === 'paused') return onPaused?.();
        if (answer.type === 'failed') return finish(new Error(`worker: ${answer.error}`));
        finish(undefined, answer);
      };
      const onExit = (): void => finish(new Error(`worker exited during ${message.type}`));
      const finish = (error?: Error, answer?: FromWorker): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        if (error) reject(error);
        else resolve(answer!);
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.send(message);
    });
  }
}
