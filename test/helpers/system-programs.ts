import { spawnSync } from 'node:child_process';

/** A program the system tier runs, and how to tell whether this machine has it. */
export interface SystemProgram {
  /** What the failure line calls it, e.g. `redis-server`. */
  readonly name: string;
  /** The Debian package that provides it, e.g. `redis-server`. */
  readonly debianPackage: string;
  /** A command that exits 0 only when the program is usable, e.g. `['redis-server', '--version']`. */
  readonly probe: readonly [string, ...string[]];
}

/** Thrown when a program is missing: one line, no stack. */
export class MissingProgramError extends Error {
  constructor(program: SystemProgram) {
    super(
      `missing program: ${program.name} (install the Debian package ${program.debianPackage}: apt-get install ${program.debianPackage})`,
    );
    this.name = 'MissingProgramError';
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** Whether the program's probe runs and exits 0. */
export function hasProgram(program: SystemProgram): boolean {
  const [command, ...args] = program.probe;
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  return result.error === undefined && result.status === 0;
}

/**
 * Throws {@link MissingProgramError} unless the program is usable. Call it in `beforeAll` of
 * every system-tier suite that runs the program: a missing program fails the suite, never skips.
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
    name: 'kubectl',
    debianPackage: 'kubernetes-client',
    probe: ['kubectl', 'version', '--client'],
  },
  redisServer: {
    name: 'redis-server',
    debianPackage: 'redis-server',
    probe: ['redis-server', '--version'],
  },
} as const satisfies Record<string, SystemProgram>;
