import {
  evaluateTargets,
  restRatios,
  restSliceRatios,
  type BenchReport,
  type Comparison,
  type RestSection,
} from '../../bench/report';
import { boxPath, countNdjson, featurePath, requestsFor, rotate } from '../../bench/rest-paths';
import type { PhaseFigures } from '../../bench/stats';

const figures = (cpuUsPerCall: number, itemsPerCall = 1): PhaseFigures => ({
  calls: 100,
  errors: 0,
  callsPerSecond: 1000,
  p50Ms: 1,
  p99Ms: 2,
  cpuUsPerCall,
  itemsPerCall,
  cpuUsPerItem: cpuUsPerCall / itemsPerCall,
});

const section = (): RestSection => ({
  dataset: '100 (canonical)',
  tool: 'autocannon 9.0.0',
  concurrency: 50,
  phases: {
    'GetFeature c=50': {
      rest: [figures(120), figures(130), figures(200)],
      grpcBeside: [figures(100), figures(100), figures(100)],
    },
    'ListFeatures whole box c=50': {
      rest: [figures(500, 100), figures(450, 100)],
      grpcBeside: [figures(200, 100), figures(200, 100)],
    },
  },
});

const report = (extra: Partial<BenchReport>): BenchReport => ({
  startedAt: '2026-12-02T00:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'test', node: 'v24', loadAverageAtStart: [0, 0, 0] },
  options: {
    serverNodeOptions: '',
    serverNodeFlags: [],
    pinned: false,
    rounds: 1,
    sizes: [100],
    workers: 3,
    phaseMs: 1000,
    quick: true,
  },
  sizes: [],
  ...extra,
});

describe('benchmark REST paths', () => {
  it('builds the gateway paths of GetFeature and ListFeatures', () => {
    expect(featurePath({ latitude: 409146138, longitude: -746188906 })).toBe(
      '/v1/features/409146138/-746188906',
    );
    expect(
      boxPath({
        lo: { latitude: -900000000, longitude: -1800000000 },
        hi: { latitude: 1, longitude: 2 },
      }),
    ).toBe(
      '/v1/features?lo.latitude=-900000000&lo.longitude=-1800000000&hi.latitude=1&hi.longitude=2',
    );
  });

  it('rotates inputs by any offset', () => {
    expect(rotate([1, 2, 3], 0)).toEqual([1, 2, 3]);
    expect(rotate([1, 2, 3], 4)).toEqual([2, 3, 1]);
    expect(rotate([1, 2, 3], -1)).toEqual([3, 1, 2]);
    expect(rotate([], 5)).toEqual([]);
  });

  it('counts the result lines of an NDJSON stream and notices a failed one', () => {
    const line = '{"result":{"name":"a","location":{"latitude":1,"longitude":2}}}';
    expect(countNdjson(`${line}\n${line}\n`)).toEqual({ items: 2, failed: false });
    expect(countNdjson(`${line}\n${line}`)).toEqual({ items: 2, failed: false });
    expect(countNdjson('')).toEqual({ items: 0, failed: false });
    expect(countNdjson(`${line}\n{"error":{"code":14,"message":"x","details":[]}}\n`)).toEqual({
      items: 1,
      failed: true,
    });
    // A name containing the marker is inside a line, not at its start.
    expect(countNdjson('{"result":{"name":"{\\"result\\":"}}\n')).toEqual({
      items: 1,
      failed: false,
    });
  });

  it('sizes a count-bounded slice from the rate, at least one request per connection', () => {
    expect(requestsFor(2000, 1500, 50)).toBe(3000);
    expect(requestsFor(10, 1500, 50)).toBe(50);
    expect(requestsFor(NaN, 1500, 50)).toBe(50);
  });
});

describe('benchmark REST ratios and targets', () => {
  it('divides each REST slice by the gRPC beside it, per call or per feature', () => {
    expect(restSliceRatios(section(), 'GetFeature c=50')).toEqual([1.2, 1.3, 2]);
    expect(restSliceRatios(section(), 'ListFeatures whole box c=50')).toEqual([2.5, 2.25]);
    expect(restSliceRatios(section(), 'RecordRoute')).toEqual([]);
  });

  it('takes the median against the issue limits', () => {
    const ratios = restRatios(section());
    expect(ratios['GetFeature c=50']).toMatchObject({ ratio: 1.3, limit: 1.5, met: true });
    expect(ratios['ListFeatures whole box c=50']).toMatchObject({
      ratio: 2.375,
      limit: 2,
      met: false,
    });
  });

  it('lists the REST ratios and JWT on ÷ ours among the targets', () => {
    const rest = section();
    rest.ratios = restRatios(rest);
    const comparison: Comparison = {
      dataset: '100 (canonical)',
      contenders: [],
      phases: {
        'GetFeature c=50': {
          ours: [figures(110)],
          'example beside ours': [figures(100)],
          'JWT on': [figures(165)],
          'example beside JWT on': [figures(100)],
        },
      },
    };
    const targets = evaluateTargets(report({ rest, comparison }));
    const jwt = targets.find((t) => t.target.includes('JWT on'));
    expect(jwt).toMatchObject({ measured: '1.50× (1.65× the example)', met: null });
    const restTargets = targets.filter((t) => t.target.startsWith('REST'));
    expect(restTargets.map((t) => [t.measured, t.limit, t.met])).toEqual([
      ['1.30×', '≤ 1.5×', true],
      ['2.38×', '≤ 2×', false],
    ]);
  });
});
