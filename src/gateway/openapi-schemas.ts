import type * as protoLoader from '@grpc/proto-loader';
import type { ProtoComments } from './proto-comments';

/** A JSON Schema (OpenAPI 3.1 dialect), as plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

/** The parts of a `google.protobuf.FieldDescriptorProto` that the schemas read. */
interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
  readonly jsonName?: string;
}

/** The parts of a `google.protobuf.DescriptorProto` that the schemas read. */
interface MessageDescriptor {
  readonly name: string;
  readonly field: readonly FieldDescriptor[];
  readonly nestedType?: readonly MessageDescriptor[];
  readonly enumType?: readonly EnumDescriptor[];
  readonly options?: { readonly mapEntry?: boolean } | null;
}

interface EnumDescriptor {
  readonly name: string;
  readonly value: readonly { readonly name: string }[];
}

type Declaration =
  | { readonly kind: 'message'; readonly descriptor: MessageDescriptor }
  | { readonly kind: 'enum'; readonly descriptor: EnumDescriptor };

/** One field as the proto3 JSON mapping names it, with the message it belongs to. */
export interface JsonField {
  /** The `.proto` name, e.g. `point_count`. */
  readonly protoName: string;
  /** The lowerCamelCase JSON name, e.g. `pointCount`. */
  readonly jsonName: string;
  readonly repeated: boolean;
  /** Fully qualified name of a message or enum field's type; undefined for scalars. */
  readonly typeName: string | undefined;
  readonly kind: 'scalar' | 'enum' | 'message' | 'map';
  /** The comment on the field in the .proto, if any. */
  readonly comment: string | undefined;
}

/** Name of the error schema every failed call answers with. */
export const STATUS_SCHEMA = 'google.rpc.Status';

/** proto3 JSON mapping of scalar types (https://protobuf.dev/programming-guides/json/). */
const SCALARS: Readonly<Record<string, JsonSchema>> = {
  TYPE_INT32: { type: 'integer', format: 'int32' },
  TYPE_SINT32: { type: 'integer', format: 'int32' },
  TYPE_SFIXED32: { type: 'integer', format: 'int32' },
  TYPE_UINT32: { type: 'integer', format: 'int64', minimum: 0, maximum: 4294967295 },
  TYPE_FIXED32: { type: 'integer', format: 'int64', minimum: 0, maximum: 4294967295 },
  TYPE_INT64: { type: 'string', format: 'int64', description: 'A 64-bit integer, as a string' },
  TYPE_SINT64: { type: 'string', format: 'int64', description: 'A 64-bit integer, as a string' },
  TYPE_SFIXED64: { type: 'string', format: 'int64', description: 'A 64-bit integer, as a string' },
  TYPE_UINT64: {
    type: 'string',
    format: 'uint64',
    description: 'An unsigned 64-bit integer, as a string',
  },
  TYPE_FIXED64: {
    type: 'string',
    format: 'uint64',
    description: 'An unsigned 64-bit integer, as a string',
  },
  TYPE_FLOAT: { type: 'number', format: 'float' },
  TYPE_DOUBLE: { type: 'number', format: 'double' },
  TYPE_BOOL: { type: 'boolean' },
  TYPE_STRING: { type: 'string' },
  TYPE_BYTES: { type: 'string', format: 'byte', contentEncoding: 'base64' },
};

/** The well-known types that the JSON mapping writes as something other than an object. */
const WELL_KNOWN: Readonly<Record<string, JsonSchema>> = {
  'google.protobuf.Timestamp': { type: 'string', format: 'date-time' },
  'google.protobuf.Duration': { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$' },
  'google.protobuf.FieldMask': { type: 'string' },
  'google.protobuf.Empty': { type: 'object' },
  'google.protobuf.Struct': { type: 'object', additionalProperties: true },
  'google.protobuf.Value': {},
  'google.protobuf.ListValue': { type: 'array', items: {} },
  'google.protobuf.Any': {
    type: 'object',
    properties: { '@type': { type: 'string' } },
    required: ['@type'],
    additionalProperties: true,
  },
  'google.protobuf.DoubleValue': { type: ['number', 'null'], format: 'double' },
  'google.protobuf.FloatValue': { type: ['number', 'null'], format: 'float' },
  'google.protobuf.Int64Value': { type: ['string', 'null'], format: 'int64' },
  'google.protobuf.UInt64Value': { type: ['string', 'null'], format: 'uint64' },
  'google.protobuf.Int32Value': { type: ['integer', 'null'], format: 'int32' },
  'google.protobuf.UInt32Value': { type: ['integer', 'null'], format: 'int64' },
  'google.protobuf.BoolValue': { type: ['boolean', 'null'] },
  'google.protobuf.StringValue': { type: ['string', 'null'] },
  'google.protobuf.BytesValue': { type: ['string', 'null'], format: 'byte' },
};

/** `google.rpc.Status` as the gateway writes it: every failed call's JSON body. */
const STATUS: JsonSchema = {
  type: 'object',
  description:
    'The error of a failed call (google.rpc.Status): the gRPC status code, a message for developers and optional details.',
  properties: {
    code: {
      type: 'integer',
      format: 'int32',
      description: 'The gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 14 UNAVAILABLE, …).',
    },
    message: { type: 'string', description: 'What went wrong, in English, for developers.' },
    details: {
      type: 'array',
      description: 'Machine-readable details, each a google.protobuf.Any.',
      items: WELL_KNOWN['google.protobuf.Any'],
    },
  },
  required: ['code', 'message'],
  example: { code: 3, message: 'latitude must lie in [-900000000, 900000000]', details: [] },
};

/** protoc's default JSON name: underscores dropped, the letter after each upper-cased. */
export function lowerCamelCase(protoName: string): string {
  return protoName.replace(/_+([a-zA-Z0-9])?/g, (_m, c: string | undefined) =>
    c === undefined ? '' : c.toUpperCase(),
  );
}

/**
 * JSON Schemas of a package definition's messages under the proto3 JSON mapping (lowerCamelCase
 * names, 64-bit integers as strings, enums by name, well-known types in their JSON forms), for
 * `components.schemas`. Schemas are made on demand: only the messages reachable from a
 * {@link ref} (plus `google.rpc.Status`) end up in {@link schemas}, under their full names.
 */
export class MessageSchemas {
  private readonly declarations = new Map<string, Declaration>();
  private readonly made = new Map<string, JsonSchema>([[STATUS_SCHEMA, STATUS]]);

  constructor(
    packageDefinition: protoLoader.PackageDefinition,
    private readonly comments: ProtoComments = new Map(),
  ) {
    for (const [name, definition] of Object.entries(packageDefinition)) {
      const format = (definition as { format?: unknown }).format;
      if (format === 'Protocol Buffer 3 EnumDescriptorProto') {
        const descriptor = (definition as protoLoader.EnumTypeDefinition).type as EnumDescriptor;
        this.declarations.set(name, { kind: 'enum', descriptor });
      } else if (format === 'Protocol Buffer 3 DescriptorProto') {
        this.index(
          name,
          (definition as protoLoader.MessageTypeDefinition<object, object>)
            .type as MessageDescriptor,
        );
      }
    }
  }

  /** The components.schemas object: every schema made so far, by name. */
  schemas(): Record<string, JsonSchema> {
    return Object.fromEntries([...this.made].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** A `$ref` to a message or enum's schema (made now if new); well-known types inline. */
  ref(fullName: string): JsonSchema {
    const wellKnown = WELL_KNOWN[fullName];
    if (wellKnown !== undefined) return { ...wellKnown };
    if (!this.made.has(fullName)) this.make(fullName);
    return { $ref: `#/components/schemas/${fullName}` };
  }

  /** The fields of a message, in declaration order, named as the JSON mapping names them. */
  fields(messageName: string): JsonField[] {
    const message = this.message(messageName);
    return message.field.map((field) => this.jsonField(messageName, field));
  }

  /** The schema of one field (arrays and maps included), with its comment as description. */
  fieldSchema(field: JsonField): JsonSchema {
    const schema = this.valueSchema(field);
    return field.comment === undefined ? schema : { ...schema, description: field.comment };
  }

  /** The field a dotted path (`lo.latitude`, proto or JSON names) names, from a message. */
  fieldAt(messageName: string, fieldPath: readonly string[]): JsonField {
    let owner = messageName;
    let found: JsonField | undefined;
    for (const [i, part] of fieldPath.entries()) {
      found = this.fields(owner).find((f) => f.protoName === part || f.jsonName === part);
      if (found === undefined) {
        throw new Error(
          `openapi: ${messageName} has no field ${fieldPath.slice(0, i + 1).join('.')}`,
        );
      }
      if (i < fieldPath.length - 1) {
        if (found.kind !== 'message' || found.repeated) {
          throw new Error(
            `openapi: ${messageName}.${fieldPath.join('.')} crosses a non-message field`,
          );
        }
        owner = found.typeName!;
      }
    }
    return found!;
  }

  private valueSchema(field: JsonField): JsonSchema {
    if (field.kind === 'map') return this.mapSchema(field.typeName!);
    const item =
      field.kind === 'scalar' ? { ...SCALARS[field.typeName ?? ''] } : this.ref(field.typeName!);
    return field.repeated ? { type: 'array', items: item } : item;
  }

  private mapSchema(entryName: string): JsonSchema {
    const value = this.fields(entryName).find((f) => f.protoName === 'value');
    if (value === undefined) throw new Error(`openapi: map entry ${entryName} has no value field`);
    return { type: 'object', additionalProperties: this.valueSchema(value) };
  }

  private jsonField(owner: string, field: FieldDescriptor): JsonField {
    const common = {
      protoName: field.name,
      jsonName: field.jsonName ? field.jsonName : lowerCamelCase(field.name),
      repeated: field.label === 'LABEL_REPEATED',
      comment: this.comments.get(`${owner}.${field.name}`),
    };
    if (field.type !== 'TYPE_MESSAGE' && field.type !== 'TYPE_ENUM') {
      if (SCALARS[field.type] === undefined) {
        throw new Error(`openapi: ${owner}.${field.name} has unsupported type ${field.type}`);
      }
      return { ...common, kind: 'scalar', typeName: field.type };
    }
    const typeName = this.resolve(owner, field.typeName);
    const declaration = this.declarations.get(typeName);
    if (declaration?.kind === 'enum') return { ...common, kind: 'enum', typeName };
    if (common.repeated && declaration?.descriptor.options?.mapEntry === true) {
      return { ...common, kind: 'map', repeated: false, typeName };
    }
    return { ...common, kind: 'message', typeName };
  }

  /** Protobuf scoping: a type name is looked up from the innermost enclosing scope outwards. */
  private resolve(scope: string, typeName: string): string {
    const name = typeName.replace(/^\./, '');
    if (typeName.startsWith('.')) return name;
    const parts = scope.split('.');
    for (let n = parts.length; n >= 0; n--) {
      const candidate = [...parts.slice(0, n), name].join('.');
      if (this.declarations.has(candidate) || WELL_KNOWN[candidate] !== undefined) return candidate;
    }
    throw new Error(`openapi: ${scope} refers to ${typeName}, which the package definition lacks`);
  }

  private index(name: string, descriptor: MessageDescriptor): void {
    this.declarations.set(name, { kind: 'message', descriptor });
    for (const nested of descriptor.nestedType ?? []) this.index(`${name}.${nested.name}`, nested);
    for (const nested of descriptor.enumType ?? []) {
      this.declarations.set(`${name}.${nested.name}`, { kind: 'enum', descriptor: nested });
    }
  }

  private message(name: string): MessageDescriptor {
    const declaration = this.declarations.get(name);
    if (declaration?.kind !== 'message') throw new Error(`openapi: no message ${name}`);
    return declaration.descriptor;
  }

  private make(fullName: string): void {
    const declaration = this.declarations.get(fullName);
    if (declaration === undefined) throw new Error(`openapi: no message or enum ${fullName}`);
    const comment = this.comments.get(fullName);
    const described = comment === undefined ? {} : { description: comment };
    if (declaration.kind === 'enum') {
      const values = declaration.descriptor.value.map((v) => v.name);
      this.made.set(fullName, { type: 'string', enum: values, ...described });
      return;
    }
    const schema: JsonSchema = { type: 'object', ...described, properties: {} };
    this.made.set(fullName, schema); // before the fields: a recursive message refers to itself
    const properties: Record<string, JsonSchema> = {};
    for (const field of this.fields(fullName)) properties[field.jsonName] = this.fieldSchema(field);
    schema.properties = properties;
  }
}
