import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { withFdLimit } from '../test/helpers/process';
import { repoRoot } from './paths';

/** Scheduler ticks per second, for /proc/<pid>/stat CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ServerOptions {
  /** Script to run; default the real server, dist/main.js. */
  script?: string;
  /** Node.js flags before the script (the benchmark passes those of `npm start`). */
  nodeFlags?: string[];
  /** Further environment (e.g. REFLECTION=false). */
  env?: Record<string, string>;
  /** Pin the process to this CPU (taskset), when set. */
  cpu?: number;
  featuresFile: string;
  /** LOG_LEVEL; with `silent` there is no "serving" line, so readiness is polled. */
  logLevel: string;
  /** METRICS=true/false (ignored by servers that have no metrics). */
  metrics: boolean;
  /** Longest wait for readiness. */
  readyTimeoutMs: number;
  /** NODE_OPTIONS for the server process; empty for none. */
  nodeOptions: string;
  /** Raise the process's open-files limit to this (or to the hard limit, if lower). Default: inherited. */
  fdLimit?: number;
}

/** The real server (`node dist/main.js`) as a child process on loopback. */
export class BenchServer {
  /** Milliseconds from spawn to the "routeguide serving" log line (or first answered call). */
  readyMs = NaN;
  /** Milliseconds from spawn to health SERVING, when the server has a health service. */
  healthReadyMs: number | undefined;
  /** The server's own measure of loading the database, from its log line. */
  loadMs: number | undefined;
  port = 0;
  /** The REST gateway's port, from the serving line; undefined when the server has none. */
  restPort: number | undefined;
  logLines = 0;
  /** `authorization` metadata the load sends to this server (GetFeature/ListFeatures); default none. */
  authorization: string | undefined;
  private stderr = '';

  private constructor(
    readonly child: ChildProcess,
    private readonly spawnedAt: number,
  ) {}

  static async start(options: ServerOptions): Promise<BenchServer> {
    const silent = options.logLevel === 'silent';
    // A silent server cannot tell us its port, so pick a free one for it.
    const port = silent ? await freePort() : 0;
    const args = [
      ...(options.nodeFlags ?? []),
      options.script ?? path.join(repoRoot(), 'dist', 'main.js'),
    ];
    // taskset execs node in place (same pid), and every thread node starts inherits the CPU.
    const [pinned, pinnedArgs] =
      options.cpu === undefined
        ? [process.execPath, args]
        : ['taskset', ['-c', String(options.cpu), process.execPath, ...args]];
    const [command, commandArgs] =
      options.fdLimit === undefined
        ? [pinned, pinnedArgs]
        : withFdLimit(options.fdLimit, pinned, pinnedArgs);
    const child = spawn(command, commandArgs, {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: '0',
        // Free ports for the REST gateway too: several servers run at once.
        REST_PORT: '0',
        METRICS: String(options.metrics),
        LOG_LEVEL: options.logLevel,
        FEATURES_FILE: options.featuresFile,
        // The benchmark measures the server, not connection rebalancing: long streams must not
        // be cut by the max-age GOAWAY.
        MAX_CONNECTION_AGE_MS: String(3_600_000),
        ...(options.nodeOptions === '' ? {} : { NODE_OPTIONS: options.nodeOptions }),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new BenchServer(child, performance.now());
    const serving = new Promise<void>((resolve, reject) => {
      let partial = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const text of lines) {
          server.logLines++;
          if (!text.includes('routeguide serving')) continue;
          const line = JSON.parse(text) as Record<string, unknown>;
          server.readyMs = performance.now() - server.spawnedAt;
          server.port = Number(line['port']);
          server.restPort = typeof line['restPort'] === 'number' ? line['restPort'] : undefined;
          server.loadMs = typeof line['loadMs'] === 'number' ? line['loadMs'] : undefined;
          resolve();
        }
      });
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (server.stderr += chunk));
      child.once('exit', (code, signal) =>
        reject(new Error(`server exited (${code ?? signal}) before serving: ${server.stderr}`)),
      );
    });
    const timeout = setTimeout(() => child.kill('SIGKILL'), options.readyTimeoutMs);
    try {
      if (silent) {
        server.port = port;
        await Promise.race([server.pollUntilAnswering(options.readyTimeoutMs), serving]);
        server.readyMs = performance.now() - server.spawnedAt;
      } else {
        await serving;
      }
      await server.pollHealth(options.readyTimeoutMs);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timeout);
    }
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** User + system CPU time of the server process so far, in milliseconds. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  }

  /** Resident set size of the server process, in bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return Number(kb) * 1024;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Silent servers: the port answers once a connection can be made. */
  private async pollUntilAnswering(timeoutMs: number): Promise<void> {
    const client = new grpc.Client(`127.0.0.1:${this.port}`, grpc.credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve())),
      );
    } finally {
      client.close();
    }
  }

  /** Records when health reports SERVING; leaves it undefined if there is no health service. */
  private async pollHealth(timeoutMs: number): Promise<void> {
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const client = new loaded.grpc.health.v1.Health(
      `127.0.0.1:${this.port}`,
      grpc.credentials.createInsecure(),
    );
    const check = (): Promise<{ status?: string } | grpc.ServiceError> =>
      new Promise((resolve) =>
        client['Check']!({ service: '' }, (error: grpc.ServiceError | null, value?: object) =>
          resolve(error ?? value ?? {}),
        ),
      );
    const until = Date.now() + timeoutMs;
    try {
      while (Date.now() < until) {
        const answer = await check();
        if ('code' in answer) {
          if (answer.code === grpc.status.UNIMPLEMENTED) return;
        } else if (answer.status === 'SERVING') {
          this.healthReadyMs = performance.now() - this.spawnedAt;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      client.close();
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
