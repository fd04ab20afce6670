import path from 'node:path';
import { readCgroupFile, SELF_CGROUP_FILES, smallestCgroupLimit, type CgroupFiles } from './cgroup';

/**
 * cgroup v1 writes "no limit" as the largest page-aligned 64-bit value (9223372036854771712);
 * anything from 2⁶² bytes up is treated as no limit.
 */
const V1_UNLIMITED_BYTES = 2 ** 62;

/** A byte count as the kernel writes it, or undefined for "max", junk or 0. */
function bytes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim();
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 && n < V1_UNLIMITED_BYTES ? n : undefined;
}

/**
 * The memory limit of this process's cgroup in bytes, the smallest along the cgroup's
 * ancestors: cgroup v2 `memory.max` ("max" = none) or cgroup v1 `memory.limit_in_bytes` (its
 * huge "unlimited" value = none); undefined when there is no limit (or no cgroups). Read the
 * same way as the CPU quota (cpu-limit.ts).
 */
export function cgroupMemoryLimit(files: CgroupFiles = SELF_CGROUP_FILES): number | undefined {
  return smallestCgroupLimit(files, {
    v1Controller: 'memory',
    v2: (dir) => bytes(readCgroupFile(path.posix.join(dir, 'memory.max'))),
    v1: (dir) => bytes(readCgroupFile(path.posix.join(dir, 'memory.limit_in_bytes'))),
  });
}
