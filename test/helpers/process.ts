import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CANONICAL_FILE } from './canonical';

/** The compiled entry point; `npm test` builds it first (pretest). */
export const MAIN_JS = path.resolve(__dirname, '..', '..', 'dist', 'main.js');
/** The compiled standalone REST gateway (`GATEWAY_TARGET`). */
export const GATEWAY_MAIN_JS = path.resolve(__dirname, '..', '..', 'dist', 'gateway-main.js');

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Parsed JSON log lines from stdout, in order. */
  readonly logs: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line matching, or rejects after the timeout. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process if it is still running. */
  kill(): void;
}

/**
 * Runs `command args…` through bash with the open-files limit raised to `fdLimit`, or to the
 * hard limit when that is lower: only the child gets it. `exec` keeps the pid the command's.
 */
export function withFdLimit(
  fdLimit: number,
  command: string,
  args: readonly string[],
): [string, string[]] {
  const script =
    'n=$0; h=$(ulimit -Hn); if [ "$h" != unlimited ] && [ "$h" -lt "$n" ]; then n=$h; fi; ' +
    'ulimit -n "$n" && exec "$@"';
  return ['bash', ['-c', script, String(fdLimit), command, ...args]];
}

/**
 * Runs `command args…` through sh as a member of the cgroup at `dir` from its first instruction
 * on (it joins, then `exec`s the command: the pid stays the command's), as a container's process.
 */
export function inCgroup(
  dir: string,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return ['sh', ['-c', 'echo $$ >"$0/cgroup.procs" && exec "$@"', dir, command, ...args]];
}

/**
 * Spawns `node dist/main.js` (or `script`, e.g. {@link GATEWAY_MAIN_JS}) on loopback with the
 * given extra environment; `nodeArgs` go before the script (e.g. `--require` of a test-only
 * preload); `fdLimit` raises the child's open-files limit (see {@link withFdLimit}); `cgroupDir`
 * runs it inside that cgroup (see {@link inCgroup}).
 */
export function spawnServer(
  env: Record<string, string> = {},
  options: {
    nodeArgs?: readonly string[];
    fdLimit?: number;
    cgroupDir?: string;
    script?: string;
  } = {},
): ServerProcess {
  const script = options.script ?? MAIN_JS;
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build`);
  const args = [...(options.nodeArgs ?? []), script];
  const [limited, limitedArgs] =
    options.fdLimit === undefined
      ? [process.execPath, args]
      : withFdLimit(options.fdLimit, process.execPath, args);
  const [command, commandArgs] =
    options.cgroupDir === undefined
      ? [limited, limitedArgs]
      : inCgroup(options.cgroupDir, limited, limitedArgs);
  const child = spawn(command, commandArgs, {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      REST_PORT: '0',
      FEATURES_FILE: CANONICAL_FILE,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      if (text.trim() === '') continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { raw: text };
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    waitForLog(predicate, timeoutMs = 10_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

/** Waits for the "routeguide serving" line and returns the bound gRPC port. */
export async function servingPort(server: ServerProcess, timeoutMs = 10_000): Promise<number> {
  const line = await Promise.race([
    server.waitForLog((l) => l['msg'] === 'routeguide serving', timeoutMs),
    server.exited.then(({ code }) => {
      throw new Error(
        `server exited with ${code} before serving; stderr: ${server.stderr()}; logs: ${JSON.stringify(server.logs)}`,
      );
    }),
  ]);
  return line['port'] as number;
}

/** Kills every process still running and waits until all have exited. */
export async function killAll(processes: readonly ServerProcess[]): Promise<void> {
  for (const p of processes) p.kill();
  await Promise.all(processes.map((p) => p.exited));
}
