import { CallCounters } from '../../src/observability/call-counters';
import { callObserverInterceptor } from '../../src/grpc/call-observer';
import { FeatureDatabase } from '../../src/routeguide/features';
import { assertIntegerOptions } from '../../src/util/integer-options';
import { MemoryNotesStore } from '../../src/stores/memory-notes';
import { createRouteGuideService } from '../../src/service/route-guide';
import { capturingLogger } from '../helpers/server';

describe('assertIntegerOptions', () => {
  it('accepts safe integers at or above the minimum', () => {
    expect(() => assertIntegerOptions({ a: 1, b: Number.MAX_SAFE_INTEGER }, 1)).not.toThrow();
    expect(() => assertIntegerOptions({ a: 0 }, 0)).not.toThrow();
  });

  it.each([
    [{ a: 1, b: 0 }, 1, 'b must be a positive integer, got 0'],
    [{ a: 1.5 }, 1, 'a must be a positive integer, got 1.5'],
    [{ a: Number.NaN }, 0, 'a must be a non-negative integer, got NaN'],
    [{ a: -1 }, 0, 'a must be a non-negative integer, got -1'],
    [{ a: 2 ** 53 }, 0, `a must be a non-negative integer, got ${2 ** 53}`],
  ] as const)('%j (min %d) throws "%s"', (values, min, message) => {
    expect(() => assertIntegerOptions(values, min)).toThrow(new RangeError(message));
  });

  it('guards the options that use it', () => {
    expect(() =>
      createRouteGuideService({
        features: FeatureDatabase.fromFeatures([]),
        notes: new MemoryNotesStore(),
        logger: capturingLogger().logger,
        listBatchBytes: 0,
      }),
    ).toThrow('listBatchBytes must be a positive integer, got 0');
    expect(() =>
      callObserverInterceptor({
        counters: new CallCounters(),
        replicaId: 'r',
        writeBehindBytes: -1,
      }),
    ).toThrow('writeBehindBytes must be a non-negative integer, got -1');
  });
});
