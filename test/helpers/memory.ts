import v8 from 'node:v8';
import vm from 'node:vm';

// Tests measure the heap after a full collection; --expose-gc is enabled at run time so Jest
// needs no special flags.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** Heap bytes in use after full garbage collections (settled over a few rounds). */
export async function settledHeapBytes(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setImmediate(resolve));
  }
  collect();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;

/** Heap bytes still reachable right now (one synchronous full collection). */
export function liveHeapBytes(): number {
  collect();
  return process.memoryUsage().heapUsed;
}
