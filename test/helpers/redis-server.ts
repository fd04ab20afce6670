import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import type { TestServer } from './server';

/** A free TCP port on 127.0.0.1 (closed again, so a server can take it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A real `redis-server` on 127.0.0.1 with its own temporary directory and no persistence.
 * `kill()` SIGKILLs it; `start()` again brings it back on the same port (empty).
 */
export class RedisServer {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'routeguide-redis-'));
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(readonly port: number) {}

  /** Picks a free port; does not start the server. */
  static async onFreePort(): Promise<RedisServer> {
    return new RedisServer(await freePort());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts redis-server and resolves once it accepts connections (at most 10 s). */
  async start(extraArgs: string[] = []): Promise<void> {
    if (this.child) throw new Error('redis-server already running');
    const child = spawn(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
        '--maxmemory',
        '256mb',
        '--maxmemory-policy',
        'allkeys-lru',
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not start in 10 s:\n${output}`));
      }, 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A real Redis Cluster of `size` masters (no replicas) on 127.0.0.1: one {@link RedisServer}
 * per node with `--cluster-enabled yes` (its `nodes.conf` in the node's directory, so a node
 * killed and started again rejoins), formed with `redis-cli --cluster create`.
 */
export class RedisCluster {
  private constructor(readonly nodes: readonly RedisServer[]) {}

  /** Starts the nodes, creates the cluster and waits until every node reports `cluster_state:ok`. */
  static async start(size = 3): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    for (let i = 0; i < size; i++) nodes.push(await RedisServer.onFreePort());
    const cluster = new RedisCluster(nodes);
    try {
      await cluster.startNodes();
      await promisify(execFile)(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((node) => `127.0.0.1:${node.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
      await cluster.waitUntilOk();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The seed URL the store is given: the first node only. */
  get seedUrl(): string {
    return `redis://127.0.0.1:${this.nodes[0]!.port}`;
  }

  /** Starts every node that is not running (a restarted node rejoins from its nodes.conf). */
  async startNodes(): Promise<void> {
    await Promise.all(
      this.nodes
        .filter((node) => !node.running)
        .map((node) =>
          node.start([
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(node.dir, 'nodes.conf'),
            '--cluster-node-timeout',
            '2000',
          ]),
        ),
    );
  }

  /** Resolves once every node reports `cluster_state:ok` (at most 30 s). */
  async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = await Promise.all(this.nodes.map((node) => clusterState(node.port)));
      if (states.every((state) => state === 'ok')) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok after 30 s: ${states.join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The node whose database holds `key` (exactly one must), by its index in {@link nodes}. */
  async ownerOf(key: string): Promise<number> {
    const holders: number[] = [];
    for (const [i, node] of this.nodes.entries()) {
      const redis = new Redis(node.port, '127.0.0.1', { lazyConnect: true });
      try {
        await redis.connect();
        // A node not owning the key's slot answers MOVED; the owner answers whether it holds it.
        const held = await redis.exists(key).catch((error: Error) => {
          if (error.message.startsWith('MOVED ')) return 0;
          throw error;
        });
        if (held === 1) holders.push(i);
      } finally {
        redis.disconnect();
      }
    }
    if (holders.length !== 1) throw new Error(`${key} is held by nodes [${holders.join(',')}]`);
    return holders[0]!;
  }

  /** SIGKILLs every node. */
  async kill(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
  }

  /** Stops every node and removes their directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}

/** `CLUSTER INFO`'s cluster_state of the node on `port`, or `down` when it does not answer. */
async function clusterState(port: number): Promise<string> {
  const redis = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  redis.on('error', () => {
    /* reported as down */
  });
  try {
    await redis.connect();
    const info = String(await redis.cluster('INFO'));
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    return 'down';
  } finally {
    redis.disconnect();
  }
}

/**
 * Each server's client sends `perWriter` notes to `location`, one RouteChat per note, all
 * servers at once. Returns what each writer sent and, per note, the replay it got.
 */
export async function writeNotesConcurrently(
  servers: TestServer[],
  perWriter: number,
  location: { latitude: number; longitude: number },
): Promise<{ sent: string[][]; replays: string[][][] }> {
  const sent = servers.map((_, w) =>
    Array.from({ length: perWriter }, (_, i) => `w${w}-${String(i).padStart(4, '0')}`),
  );
  const replays: string[][][] = servers.map(() => []);
  await Promise.all(
    servers.map(async (server, w) => {
      // One RouteChat per note, so each replay is delimited by the end of its call.
      for (const message of sent[w]!) {
        const call = server.client.RouteChat();
        const got: string[] = [];
        await new Promise<void>((resolve, reject) => {
          call.on('data', (note: RouteNote__Output) => got.push(note.message));
          call.on('error', reject);
          call.on('end', resolve);
          call.write({ location, message });
          call.end();
        });
        replays[w]!.push(got);
      }
    }),
  );
  return { sent, replays };
}
