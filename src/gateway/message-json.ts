import type * as protoLoader from '@grpc/proto-loader';
import { invalidArgument } from './http-status';

/** A field as proto-loader describes it (a `FieldDescriptorProto` in JSON form). */
interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
  readonly jsonName?: string;
}

/** One field, resolved: both spellings, and the message type of a message field. */
interface Field {
  /** The proto name, as proto-loader objects (keepCase) key it. */
  readonly name: string;
  /** The proto3 JSON name (lowerCamelCase). */
  readonly jsonName: string;
  readonly type: string;
  readonly repeated: boolean;
  /** Fully qualified message type of a TYPE_MESSAGE field. */
  readonly messageType: string | undefined;
  /** The first value of an enum field's type (its default). */
  readonly enumDefault: string | undefined;
}

interface MessageInfo {
  readonly fields: readonly Field[];
  /** Fields by proto name and by JSON name. */
  readonly byName: ReadonlyMap<string, Field>;
}

const INT32_TYPES = new Set(['TYPE_INT32', 'TYPE_SINT32', 'TYPE_SFIXED32']);
const UINT32_TYPES = new Set(['TYPE_UINT32', 'TYPE_FIXED32']);
const INT64_TYPES = new Set([
  'TYPE_INT64',
  'TYPE_SINT64',
  'TYPE_SFIXED64',
  'TYPE_UINT64',
  'TYPE_FIXED64',
]);
const FLOAT_TYPES = new Set(['TYPE_DOUBLE', 'TYPE_FLOAT']);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const INTEGER = /^-?\d+$/;

/** proto3's JSON name of a field: lowerCamelCase of its snake_case name. */
export function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * proto3 canonical JSON for the messages of a package definition, to and from the objects
 * proto-loader's (de)serializers use (keepCase, longs and enums as strings, defaults filled):
 * lowerCamelCase out, both spellings in, every field emitted (zero values too, unset messages as
 * `null`, as grpc-gateway's EmitUnpopulated does), unknown fields ignored, 64-bit integers as
 * strings, 32-bit integers from numbers or strings. Bad values throw INVALID_ARGUMENT naming the
 * field path.
 */
export class MessageJson {
  private readonly messages = new Map<string, MessageInfo>();

  constructor(private readonly definition: protoLoader.PackageDefinition) {}

  /** A message of `type` with every field at its default, as proto-loader decodes one. */
  empty(type: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of this.info(type).fields) out[field.name] = defaultValue(field);
    return out;
  }

  /** Parses a JSON value (already `JSON.parse`d) into a message of `type`. */
  fromJson(type: string, json: unknown, path = ''): Record<string, unknown> {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw invalidArgument(`${path || 'body'}: must be a JSON object`);
    }
    const info = this.info(type);
    const out = this.empty(type);
    for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
      const field = info.byName.get(key);
      if (field === undefined) continue; // unknown fields are ignored
      out[field.name] = this.fieldFromJson(field, value, join(path, field.jsonName));
    }
    return out;
  }

  /**
   * Sets the field at `fieldPath` (proto or JSON names, e.g. `['lo', 'latitude']`) from the text
   * of a path or query parameter; message fields on the way are created. A repeated field
   * gets the value appended.
   */
  setFromText(
    type: string,
    target: Record<string, unknown>,
    fieldPath: readonly string[],
    text: string,
  ): void {
    let message = target;
    let messageType = type;
    let path = '';
    for (let i = 0; i < fieldPath.length; i++) {
      const field = this.info(messageType).byName.get(fieldPath[i]!);
      if (field === undefined) {
        throw invalidArgument(`${join(path, fieldPath[i]!)}: no such field`);
      }
      path = join(path, field.jsonName);
      if (i === fieldPath.length - 1) {
        const value = this.scalarFromJson(field, text, path);
        if (field.repeated) (message[field.name] as unknown[]).push(value);
        else message[field.name] = value;
        return;
      }
      if (field.messageType === undefined || field.repeated) {
        throw invalidArgument(`${path}: not a message field`);
      }
      message[field.name] ??= this.empty(field.messageType);
      message = message[field.name] as Record<string, unknown>;
      messageType = field.messageType;
    }
  }

  /** A message object (proto-loader's shape) as proto3 canonical JSON. */
  toJson(type: string, message: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of this.info(type).fields) {
      const value = message[field.name];
      out[field.jsonName] = field.repeated
        ? ((value as unknown[] | undefined) ?? []).map((v) => this.valueToJson(field, v))
        : this.valueToJson(field, value ?? defaultValue(field));
    }
    return out;
  }

  private valueToJson(field: Field, value: unknown): unknown {
    if (field.messageType !== undefined) {
      return value === null
        ? null
        : this.toJson(field.messageType, value as Record<string, unknown>);
    }
    if (field.type === 'TYPE_BYTES') return Buffer.from(value as Uint8Array).toString('base64');
    if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
    return value;
  }

  private fieldFromJson(field: Field, value: unknown, path: string): unknown {
    if (value === null) return defaultValue(field);
    if (!field.repeated) return this.singleFromJson(field, value, path);
    if (!Array.isArray(value)) throw invalidArgument(`${path}: must be an array`);
    return value.map((item, i) => this.singleFromJson(field, item, `${path}[${i}]`));
  }

  private singleFromJson(field: Field, value: unknown, path: string): unknown {
    if (field.messageType !== undefined) return this.fromJson(field.messageType, value, path);
    return this.scalarFromJson(field, value, path);
  }

  private scalarFromJson(field: Field, value: unknown, path: string): unknown {
    const { type } = field;
    if (INT32_TYPES.has(type)) return integerFrom(value, INT32_MIN, INT32_MAX, path, 'an int32');
    if (UINT32_TYPES.has(type)) return integerFrom(value, 0, UINT32_MAX, path, 'a uint32');
    if (INT64_TYPES.has(type)) {
      const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
      if (typeof text !== 'string' || !INTEGER.test(text)) {
        throw invalidArgument(`${path}: must be a 64-bit integer`);
      }
      return text;
    }
    if (FLOAT_TYPES.has(type)) {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || Number.isNaN(n))
        throw invalidArgument(`${path}: must be a number`);
      return n;
    }
    if (type === 'TYPE_BOOL') {
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      throw invalidArgument(`${path}: must be true or false`);
    }
    if (type === 'TYPE_STRING' || type === 'TYPE_ENUM') {
      if (typeof value !== 'string') throw invalidArgument(`${path}: must be a string`);
      return value;
    }
    if (type === 'TYPE_BYTES') {
      if (typeof value !== 'string') throw invalidArgument(`${path}: must be base64 text`);
      return Buffer.from(value, 'base64');
    }
    throw invalidArgument(`${path}: cannot be set from text`);
  }

  private info(type: string): MessageInfo {
    let info = this.messages.get(type);
    if (info === undefined) {
      info = this.resolve(type);
      this.messages.set(type, info);
    }
    return info;
  }

  private resolve(type: string): MessageInfo {
    const definition = this.definition[type];
    if (
      definition === undefined ||
      !('type' in definition) ||
      definition.format !== 'Protocol Buffer 3 DescriptorProto'
    ) {
      throw new Error(`message-json: ${type} is not a message of the package definition`);
    }
    const descriptor = definition.type as { field?: FieldDescriptor[] };
    const fields = (descriptor.field ?? []).map((f) => this.field(f, type));
    const byName = new Map<string, Field>();
    for (const field of fields) {
      byName.set(field.name, field);
      byName.set(field.jsonName, field);
    }
    return { fields, byName };
  }

  private field(f: FieldDescriptor, owner: string): Field {
    const referenced =
      f.type === 'TYPE_MESSAGE' || f.type === 'TYPE_ENUM'
        ? this.typeName(f.typeName, owner)
        : undefined;
    let enumDefault: string | undefined;
    if (f.type === 'TYPE_ENUM' && referenced !== undefined) {
      const values = (
        this.definition[referenced]?.type as { value?: { name: string }[] } | undefined
      )?.value;
      enumDefault = values?.[0]?.name ?? '';
    }
    return {
      name: f.name,
      jsonName: f.jsonName || lowerCamel(f.name),
      type: f.type,
      repeated: f.label === 'LABEL_REPEATED',
      messageType: f.type === 'TYPE_MESSAGE' ? referenced : undefined,
      enumDefault,
    };
  }

  /** A field's type name (relative, as proto-loader leaves it) resolved from its message's scope. */
  private typeName(name: string, owner: string): string {
    if (name.startsWith('.')) return name.slice(1);
    const scope = owner.split('.');
    for (let i = scope.length - 1; i >= 0; i--) {
      const candidate = [...scope.slice(0, i), name].join('.');
      if (this.definition[candidate] !== undefined) return candidate;
    }
    return name;
  }
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function defaultValue(field: Field): unknown {
  if (field.repeated) return [];
  if (field.messageType !== undefined) return null;
  if (INT32_TYPES.has(field.type) || UINT32_TYPES.has(field.type) || FLOAT_TYPES.has(field.type)) {
    return 0;
  }
  if (INT64_TYPES.has(field.type)) return '0';
  if (field.type === 'TYPE_BOOL') return false;
  if (field.type === 'TYPE_BYTES') return Buffer.alloc(0);
  if (field.type === 'TYPE_ENUM') return field.enumDefault ?? '';
  return '';
}

/** An integer in [min, max] from a JSON number or a decimal string. */
function integerFrom(value: unknown, min: number, max: number, path: string, what: string): number {
  const n = typeof value === 'string' && INTEGER.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalidArgument(`${path}: must be ${what}, got ${JSON.stringify(value)}`);
  }
  return n;
}
