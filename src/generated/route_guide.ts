import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  Feature as _routeguide_Feature,
  Feature__Output as _routeguide_Feature__Output,
} from './routeguide/Feature';
import type {
  Point as _routeguide_Point,
  Point__Output as _routeguide_Point__Output,
} from './routeguide/Point';
import type {
  Rectangle as _routeguide_Rectangle,
  Rectangle__Output as _routeguide_Rectangle__Output,
} from './routeguide/Rectangle';
import type {
  RouteGuideClient as _routeguide_RouteGuideClient,
  RouteGuideDefinition as _routeguide_RouteGuideDefinition,
} from './routeguide/RouteGuide';
import type {
  RouteNote as _routeguide_RouteNote,
  RouteNote__Output as _routeguide_RouteNote__Output,
} from './routeguide/RouteNote';
import type {
  RouteSummary as _routeguide_RouteSummary,
  RouteSummary__Output as _routeguide_RouteSummary__Output,
} from './routeguide/RouteSummary';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  routeguide: {
    Feature: MessageTypeDefinition<_routeguide_Feature, _routeguide_Feature__Output>;
    Point: MessageTypeDefinition<_routeguide_Point, _routeguide_Point__Output>;
    Rectangle: MessageTypeDefinition<_routeguide_Rectangle, _routeguide_Rectangle__Output>;
    RouteGuide: SubtypeConstructor<typeof grpc.Client, _routeguide_RouteGuideClient> & {
      service: _routeguide_RouteGuideDefinition;
    };
    RouteNote: MessageTypeDefinition<_routeguide_RouteNote, _routeguide_RouteNote__Output>;
    RouteSummary: MessageTypeDefinition<_routeguide_RouteSummary, _routeguide_RouteSummary__Output>;
  };
}
