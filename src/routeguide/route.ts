import { haversineMetres, type GeoPoint } from './geo';

const INT32_MAX = 2_147_483_647;

/** What RecordRoute reports, in the wire's units. */
export interface RouteSummaryValues {
  readonly pointCount: number;
  readonly featureCount: number;
  readonly distanceMetres: number;
  readonly elapsedSeconds: number;
}

/**
 * Accumulates a recorded route point by point in constant memory, however long the route.
 * Distances are summed as floats and truncated once at the end, as the reference servers do.
 */
export class RouteAccumulator {
  private pointCount = 0;
  private featureCount = 0;
  private distance = 0;
  private previous: GeoPoint | undefined;

  constructor(private readonly isFeatureLocation: (point: GeoPoint) => boolean) {}

  add(point: GeoPoint): void {
    this.pointCount++;
    if (this.isFeatureLocation(point)) this.featureCount++;
    if (this.previous !== undefined) {
      this.distance += haversineMetres(
        this.previous.latitude,
        this.previous.longitude,
        point.latitude,
        point.longitude,
      );
    }
    this.previous = point;
  }

  /** The summary; int32 wire fields saturate rather than wrap on absurdly long routes. */
  summarize(elapsedMs: number): RouteSummaryValues {
    return {
      pointCount: Math.min(this.pointCount, INT32_MAX),
      featureCount: Math.min(this.featureCount, INT32_MAX),
      distanceMetres: Math.min(Math.trunc(this.distance), INT32_MAX),
      elapsedSeconds: Math.min(Math.trunc(elapsedMs / 1000), INT32_MAX),
    };
  }
}
