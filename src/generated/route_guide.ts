import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  CustomHttpPattern as _google_api_CustomHttpPattern,
  CustomHttpPattern__Output as _google_api_CustomHttpPattern__Output,
} from './google/api/CustomHttpPattern';
import type {
  Http as _google_api_Http,
  Http__Output as _google_api_Http__Output,
} from './google/api/Http';
import type {
  HttpRule as _google_api_HttpRule,
  HttpRule__Output as _google_api_HttpRule__Output,
} from './google/api/HttpRule';
import type {
  DescriptorProto as _google_protobuf_DescriptorProto,
  DescriptorProto__Output as _google_protobuf_DescriptorProto__Output,
} from './google/protobuf/DescriptorProto';
import type {
  EnumDescriptorProto as _google_protobuf_EnumDescriptorProto,
  EnumDescriptorProto__Output as _google_protobuf_EnumDescriptorProto__Output,
} from './google/protobuf/EnumDescriptorProto';
import type {
  EnumOptions as _google_protobuf_EnumOptions,
  EnumOptions__Output as _google_protobuf_EnumOptions__Output,
} from './google/protobuf/EnumOptions';
import type {
  EnumValueDescriptorProto as _google_protobuf_EnumValueDescriptorProto,
  EnumValueDescriptorProto__Output as _google_protobuf_EnumValueDescriptorProto__Output,
} from './google/protobuf/EnumValueDescriptorProto';
import type {
  EnumValueOptions as _google_protobuf_EnumValueOptions,
  EnumValueOptions__Output as _google_protobuf_EnumValueOptions__Output,
} from './google/protobuf/EnumValueOptions';
import type {
  ExtensionRangeOptions as _google_protobuf_ExtensionRangeOptions,
  ExtensionRangeOptions__Output as _google_protobuf_ExtensionRangeOptions__Output,
} from './google/protobuf/ExtensionRangeOptions';
import type {
  FeatureSet as _google_protobuf_FeatureSet,
  FeatureSet__Output as _google_protobuf_FeatureSet__Output,
} from './google/protobuf/FeatureSet';
import type {
  FeatureSetDefaults as _google_protobuf_FeatureSetDefaults,
  FeatureSetDefaults__Output as _google_protobuf_FeatureSetDefaults__Output,
} from './google/protobuf/FeatureSetDefaults';
import type {
  FieldDescriptorProto as _google_protobuf_FieldDescriptorProto,
  FieldDescriptorProto__Output as _google_protobuf_FieldDescriptorProto__Output,
} from './google/protobuf/FieldDescriptorProto';
import type {
  FieldOptions as _google_protobuf_FieldOptions,
  FieldOptions__Output as _google_protobuf_FieldOptions__Output,
} from './google/protobuf/FieldOptions';
import type {
  FileDescriptorProto as _google_protobuf_FileDescriptorProto,
  FileDescriptorProto__Output as _google_protobuf_FileDescriptorProto__Output,
} from './google/protobuf/FileDescriptorProto';
import type {
  FileDescriptorSet as _google_protobuf_FileDescriptorSet,
  FileDescriptorSet__Output as _google_protobuf_FileDescriptorSet__Output,
} from './google/protobuf/FileDescriptorSet';
import type {
  FileOptions as _google_protobuf_FileOptions,
  FileOptions__Output as _google_protobuf_FileOptions__Output,
} from './google/protobuf/FileOptions';
import type {
  GeneratedCodeInfo as _google_protobuf_GeneratedCodeInfo,
  GeneratedCodeInfo__Output as _google_protobuf_GeneratedCodeInfo__Output,
} from './google/protobuf/GeneratedCodeInfo';
import type {
  MessageOptions as _google_protobuf_MessageOptions,
  MessageOptions__Output as _google_protobuf_MessageOptions__Output,
} from './google/protobuf/MessageOptions';
import type {
  MethodDescriptorProto as _google_protobuf_MethodDescriptorProto,
  MethodDescriptorProto__Output as _google_protobuf_MethodDescriptorProto__Output,
} from './google/protobuf/MethodDescriptorProto';
import type {
  MethodOptions as _google_protobuf_MethodOptions,
  MethodOptions__Output as _google_protobuf_MethodOptions__Output,
} from './google/protobuf/MethodOptions';
import type {
  OneofDescriptorProto as _google_protobuf_OneofDescriptorProto,
  OneofDescriptorProto__Output as _google_protobuf_OneofDescriptorProto__Output,
} from './google/protobuf/OneofDescriptorProto';
import type {
  OneofOptions as _google_protobuf_OneofOptions,
  OneofOptions__Output as _google_protobuf_OneofOptions__Output,
} from './google/protobuf/OneofOptions';
import type {
  ServiceDescriptorProto as _google_protobuf_ServiceDescriptorProto,
  ServiceDescriptorProto__Output as _google_protobuf_ServiceDescriptorProto__Output,
} from './google/protobuf/ServiceDescriptorProto';
import type {
  ServiceOptions as _google_protobuf_ServiceOptions,
  ServiceOptions__Output as _google_protobuf_ServiceOptions__Output,
} from './google/protobuf/ServiceOptions';
import type {
  SourceCodeInfo as _google_protobuf_SourceCodeInfo,
  SourceCodeInfo__Output as _google_protobuf_SourceCodeInfo__Output,
} from './google/protobuf/SourceCodeInfo';
import type {
  UninterpretedOption as _google_protobuf_UninterpretedOption,
  UninterpretedOption__Output as _google_protobuf_UninterpretedOption__Output,
} from './google/protobuf/UninterpretedOption';
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
  google: {
    api: {
      CustomHttpPattern: MessageTypeDefinition<
        _google_api_CustomHttpPattern,
        _google_api_CustomHttpPattern__Output
      >;
      Http: MessageTypeDefinition<_google_api_Http, _google_api_Http__Output>;
      HttpRule: MessageTypeDefinition<_google_api_HttpRule, _google_api_HttpRule__Output>;
    };
    protobuf: {
      DescriptorProto: MessageTypeDefinition<
        _google_protobuf_DescriptorProto,
        _google_protobuf_DescriptorProto__Output
      >;
      Edition: EnumTypeDefinition;
      EnumDescriptorProto: MessageTypeDefinition<
        _google_protobuf_EnumDescriptorProto,
        _google_protobuf_EnumDescriptorProto__Output
      >;
      EnumOptions: MessageTypeDefinition<
        _google_protobuf_EnumOptions,
        _google_protobuf_EnumOptions__Output
      >;
      EnumValueDescriptorProto: MessageTypeDefinition<
        _google_protobuf_EnumValueDescriptorProto,
        _google_protobuf_EnumValueDescriptorProto__Output
      >;
      EnumValueOptions: MessageTypeDefinition<
        _google_protobuf_EnumValueOptions,
        _google_protobuf_EnumValueOptions__Output
      >;
      ExtensionRangeOptions: MessageTypeDefinition<
        _google_protobuf_ExtensionRangeOptions,
        _google_protobuf_ExtensionRangeOptions__Output
      >;
      FeatureSet: MessageTypeDefinition<
        _google_protobuf_FeatureSet,
        _google_protobuf_FeatureSet__Output
      >;
      FeatureSetDefaults: MessageTypeDefinition<
        _google_protobuf_FeatureSetDefaults,
        _google_protobuf_FeatureSetDefaults__Output
      >;
      FieldDescriptorProto: MessageTypeDefinition<
        _google_protobuf_FieldDescriptorProto,
        _google_protobuf_FieldDescriptorProto__Output
      >;
      FieldOptions: MessageTypeDefinition<
        _google_protobuf_FieldOptions,
        _google_protobuf_FieldOptions__Output
      >;
      FileDescriptorProto: MessageTypeDefinition<
        _google_protobuf_FileDescriptorProto,
        _google_protobuf_FileDescriptorProto__Output
      >;
      FileDescriptorSet: MessageTypeDefinition<
        _google_protobuf_FileDescriptorSet,
        _google_protobuf_FileDescriptorSet__Output
      >;
      FileOptions: MessageTypeDefinition<
        _google_protobuf_FileOptions,
        _google_protobuf_FileOptions__Output
      >;
      GeneratedCodeInfo: MessageTypeDefinition<
        _google_protobuf_GeneratedCodeInfo,
        _google_protobuf_GeneratedCodeInfo__Output
      >;
      MessageOptions: MessageTypeDefinition<
        _google_protobuf_MessageOptions,
        _google_protobuf_MessageOptions__Output
      >;
      MethodDescriptorProto: MessageTypeDefinition<
        _google_protobuf_MethodDescriptorProto,
        _google_protobuf_MethodDescriptorProto__Output
      >;
      MethodOptions: MessageTypeDefinition<
        _google_protobuf_MethodOptions,
        _google_protobuf_MethodOptions__Output
      >;
      OneofDescriptorProto: MessageTypeDefinition<
        _google_protobuf_OneofDescriptorProto,
        _google_protobuf_OneofDescriptorProto__Output
      >;
      OneofOptions: MessageTypeDefinition<
        _google_protobuf_OneofOptions,
        _google_protobuf_OneofOptions__Output
      >;
      ServiceDescriptorProto: MessageTypeDefinition<
        _google_protobuf_ServiceDescriptorProto,
        _google_protobuf_ServiceDescriptorProto__Output
      >;
      ServiceOptions: MessageTypeDefinition<
        _google_protobuf_ServiceOptions,
        _google_protobuf_ServiceOptions__Output
      >;
      SourceCodeInfo: MessageTypeDefinition<
        _google_protobuf_SourceCodeInfo,
        _google_protobuf_SourceCodeInfo__Output
      >;
      SymbolVisibility: EnumTypeDefinition;
      UninterpretedOption: MessageTypeDefinition<
        _google_protobuf_UninterpretedOption,
        _google_protobuf_UninterpretedOption__Output
      >;
    };
  };
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
