// Original file: protos/route_guide.proto

export interface RouteSummary {
  point_count?: number;
  feature_count?: number;
  distance?: number;
  elapsed_time?: number;
}

export interface RouteSummary__Output {
  point_count: number;
  feature_count: number;
  distance: number;
  elapsed_time: number;
}
