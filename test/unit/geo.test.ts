import {
  boxFromCorners,
  EARTH_RADIUS_M,
  haversineMetres,
  InvalidInputError,
  validatePoint,
} from '../../src/routeguide/geo';
import { RouteAccumulator } from '../../src/routeguide/route';
import { canonicalFeatures } from '../helpers/canonical';

describe('haversineMetres', () => {
  it('is zero for the same point', () => {
    expect(haversineMetres(407838351, -746143763, 407838351, -746143763)).toBe(0);
  });

  it('measures one degree of longitude on the equator as R·π/180', () => {
    expect(haversineMetres(0, 0, 0, 10_000_000)).toBeCloseTo((EARTH_RADIUS_M * Math.PI) / 180, 6);
  });

  it('measures pole to pole as half the circumference', () => {
    expect(haversineMetres(-900_000_000, 0, 900_000_000, 0)).toBeCloseTo(
      EARTH_RADIUS_M * Math.PI,
      3,
    );
  });

  it('is symmetric', () => {
    const there = haversineMetres(407838351, -746143763, 413628156, -749015468);
    const back = haversineMetres(413628156, -749015468, 407838351, -746143763);
    expect(there).toBeCloseTo(back, 9);
  });
});

describe('validatePoint', () => {
  it('accepts the extreme valid coordinates', () => {
    for (const point of [
      { latitude: 900_000_000, longitude: 1_800_000_000 },
      { latitude: -900_000_000, longitude: -1_800_000_000 },
    ]) {
      expect(validatePoint(point)).toBe(point);
    }
  });

  it.each([
    [{ latitude: 900_000_001, longitude: 0 }, '', 'latitude 900000001 is out of range'],
    [{ latitude: -900_000_001, longitude: 0 }, '', 'latitude -900000001 is out of range'],
    [{ latitude: 0, longitude: 1_800_000_001 }, 'lo', 'lo.longitude 1800000001 is out of range'],
    [{ latitude: 0, longitude: -1_800_000_001 }, 'hi', 'hi.longitude -1800000001 is out of range'],
  ])('rejects %j at %j naming the field', (point, path, message) => {
    expect(() => validatePoint(point, path)).toThrow(message);
  });

  it('rejects a missing point naming it', () => {
    expect(() => validatePoint(null, 'location')).toThrow(
      new InvalidInputError('location', 'location is required'),
    );
    expect(() => validatePoint(undefined, 'hi')).toThrow('hi is required');
  });
});

describe('boxFromCorners', () => {
  it('orders corners given in any order', () => {
    const a = { latitude: 420_000_000, longitude: -730_000_000 };
    const b = { latitude: 400_000_000, longitude: -750_000_000 };
    const expected = {
      minLatitude: 400_000_000,
      maxLatitude: 420_000_000,
      minLongitude: -750_000_000,
      maxLongitude: -730_000_000,
    };
    expect(boxFromCorners(a, b)).toEqual(expected);
    expect(boxFromCorners(b, a)).toEqual(expected);
    expect(
      boxFromCorners(
        { latitude: a.latitude, longitude: b.longitude },
        { latitude: b.latitude, longitude: a.longitude },
      ),
    ).toEqual(expected);
  });
});

describe('RouteAccumulator', () => {
  it('summarises the first five canonical features as 266396 m', () => {
    const features = canonicalFeatures();
    const route = new RouteAccumulator(() => true);
    for (const feature of features.slice(0, 5)) route.add(feature.location);
    expect(route.summarize(0)).toEqual({
      pointCount: 5,
      featureCount: 5,
      distanceMetres: 266396,
      elapsedSeconds: 0,
    });
  });

  it('truncates the float sum once, not each leg', () => {
    // Two legs of 0.6 m each: truncating per leg would give 0.
    const leg = 0.6 / ((EARTH_RADIUS_M * Math.PI) / 180 / 10_000_000);
    const route = new RouteAccumulator(() => false);
    route.add({ latitude: 0, longitude: 0 });
    route.add({ latitude: 0, longitude: leg });
    route.add({ latitude: 0, longitude: 2 * leg });
    expect(haversineMetres(0, 0, 0, leg)).toBeLessThan(1);
    expect(route.summarize(0).distanceMetres).toBe(1);
  });

  it('counts only points that are feature locations, and whole elapsed seconds', () => {
    const route = new RouteAccumulator((p) => p.latitude === 1);
    route.add({ latitude: 1, longitude: 0 });
    route.add({ latitude: 2, longitude: 0 });
    route.add({ latitude: 1, longitude: 0 });
    expect(route.summarize(2999)).toMatchObject({
      pointCount: 3,
      featureCount: 2,
      elapsedSeconds: 2,
    });
  });

  it('saturates int32 fields instead of wrapping', () => {
    const route = new RouteAccumulator(() => false);
    for (let i = 0; i < 2000; i++)
      route.add({ latitude: 0, longitude: i % 2 === 0 ? 0 : 1_800_000_000 });
    expect(route.summarize(0).distanceMetres).toBe(2_147_483_647);
  });

  it('reports an empty route as zeros', () => {
    expect(new RouteAccumulator(() => true).summarize(10)).toEqual({
      pointCount: 0,
      featureCount: 0,
      distanceMetres: 0,
      elapsedSeconds: 0,
    });
  });
});
