import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A program the system tier runs, and how to tell whether this machine has it. */
export interface SystemProgram {
  /** What the failure line calls it, e.g. `redis-server`. */
  readonly name: string;
  /** The Debian package that provides it, e.g. `redis-server`. */
  readonly debianPackage: string;
  /** A command that exits 0 only when the program is usable, e.g. `['redis-server', '--version']`. */
  readonly probe: readonly [string, ...string[]];
  /**
   * Whether the probe's output (stdout and stderr) shows a usable version. Default: any output
   * of a probe that exits 0 is accepted.
   */
  readonly accepts?: (output: string) => boolean;
  /** How to install it when the Debian package is not enough. Default: `apt-get install <debianPackage>`. */
  readonly install?: string;
}

/** Thrown when a program is missing: one line, no stack. */
export class MissingProgramError extends Error {
  constructor(program: SystemProgram) {
    super(missingProgramLine(program));
    this.name = 'MissingProgramError';
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The one line that names a missing program and how to install it. */
export function missingProgramLine(program: SystemProgram): string {
  const install =
    program.install ??
    `install the Debian package ${program.debianPackage}: apt-get install ${program.debianPackage}`;
  return `missing program: ${program.name} (${install})`;
}

/** Whether the program's probe runs, exits 0 and (when it says how) shows a usable version. */
export function hasProgram(program: SystemProgram): boolean {
  const [command, ...args] = program.probe;
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.error !== undefined || result.status !== 0) return false;
  return program.accepts?.(`${result.stdout}${result.stderr}`) ?? true;
}

/**
 * Throws {@link MissingProgramError} unless the program is usable. Call it in `beforeAll` of
 * every system-tier suite that runs the program: a missing program fails the suite, never skips.
 * The tier's globalSetup ({@link checkSystemPrograms}) finds these calls in the suites about to
 * run and stops the run first, with one line per missing program.
 */
export function requireProgram(program: SystemProgram): void {
  if (!hasProgram(program)) throw new MissingProgramError(program);
}

/** The programs the system tier uses. */
export const PROGRAMS = {
  python3Grpcio: {
    name: '/usr/bin/python3 with grpcio and grpc_tools',
    debianPackage: 'python3-grpcio python3-grpc-tools',
    probe: ['/usr/bin/python3', '-c', 'import grpc, grpc_tools'],
  },
  python3Protobuf: {
    name: '/usr/bin/python3 with protobuf',
    debianPackage: 'python3-protobuf',
    probe: ['/usr/bin/python3', '-c', 'import google.protobuf.descriptor_pool'],
  },
  promtool: {
    name: 'promtool',
    debianPackage: 'prometheus',
    probe: ['promtool', '--version'],
  },
  kubectl: {
    name: 'kubectl with kustomize v5 or newer (kubectl 1.27+)',
    debianPackage: 'kubernetes-client',
    probe: ['kubectl', 'version', '--client'],
    // kubectl 1.27+ prints "Kustomize Version: v5.x"; Debian's kubernetes-client (1.20) prints
    // no kustomize version and cannot render the `labels` field of k8s/kustomization.yaml.
    accepts: (output) => Number(/Kustomize Version: v(\d+)\./.exec(output)?.[1] ?? 0) >= 5,
    install:
      "Debian's kubernetes-client 1.20 is too old: install kubectl 1.27+ from the Kubernetes release packages",
  },
  redisServer: {
    name: 'redis-server',
    debianPackage: 'redis-server',
    probe: ['redis-server', '--version'],
  },
  redisCli: {
    name: 'redis-cli',
    debianPackage: 'redis-tools',
    probe: ['redis-cli', '--version'],
  },
  python3Websocket: {
    name: '/usr/bin/python3 with websocket-client',
    debianPackage: 'python3-websocket',
    probe: ['/usr/bin/python3', '-c', 'import websocket'],
  },
  curl: {
    name: 'curl',
    debianPackage: 'curl',
    probe: ['/usr/bin/curl', '--version'],
  },
  chromium: {
    name: '/usr/bin/chromium',
    debianPackage: 'chromium',
    probe: ['/usr/bin/chromium', '--version'],
  },
} as const satisfies Record<string, SystemProgram>;

/** The {@link PROGRAMS} a suite's source requires: its `requireProgram(PROGRAMS.x)` calls. */
export function programsRequiredBy(source: string): SystemProgram[] {
  const keys = [...source.matchAll(/requireProgram\(\s*PROGRAMS\.(\w+)\s*\)/g)].map((m) => m[1]!);
  return keys.map((key) => {
    const program = (PROGRAMS as Record<string, SystemProgram>)[key];
    if (program === undefined) throw new Error(`PROGRAMS has no entry ${key}`);
    return program;
  });
}

/**
 * One line per program that the given suite files require and this machine lacks, each program
 * once, in the order first required.
 */
export function checkSystemPrograms(files: readonly string[]): string[] {
  const programs = new Set(files.flatMap((file) => programsRequiredBy(readFileSync(file, 'utf8'))));
  return [...programs].filter((p) => !hasProgram(p)).map(missingProgramLine);
}
