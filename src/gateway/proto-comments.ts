import { existsSync } from 'node:fs';
import path from 'node:path';
import * as protobuf from 'protobufjs';

/**
 * The comments of a .proto file's declarations by fully qualified name: services
 * (`routeguide.RouteGuide`), methods (`routeguide.RouteGuide.GetFeature`), messages and enums
 * (`routeguide.Point`), fields and enum values (`routeguide.RouteSummary.point_count`). Each
 * paragraph is one line (Markdown renders wrapped lines so anyway), paragraphs are separated by
 * a blank line; declarations without a comment are absent.
 */
export type ProtoComments = ReadonlyMap<string, string>;

/**
 * Reads the comments of `protoFile` and of everything it imports, with protobufjs's
 * `alternateCommentMode` (plain `//` and `/* *\/` comments count, not only doc comments),
 * resolving imports against `includeDirs` as @grpc/proto-loader does. Throws when a file is
 * missing or does not parse, like loading the proto itself would.
 */
export function loadProtoComments(
  protoFile: string,
  includeDirs: readonly string[],
): ProtoComments {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => resolveImport(origin, target, includeDirs);
  root.loadSync(protoFile, { keepCase: true, alternateCommentMode: true });
  const comments = new Map<string, string>();
  collect(root, comments);
  return comments;
}

function resolveImport(origin: string, target: string, includeDirs: readonly string[]): string {
  if (path.isAbsolute(target)) return target;
  for (const dir of [path.dirname(origin), ...includeDirs]) {
    const candidate = path.join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return target;
}

/** Walks the namespace tree, recording each commented declaration under its full name. */
function collect(object: protobuf.ReflectionObject, comments: Map<string, string>): void {
  const name = object.fullName.replace(/^\./, '');
  if (object.comment) comments.set(name, unwrap(object.comment));
  if (object instanceof protobuf.Type) {
    for (const field of object.fieldsArray) collect(field, comments);
  }
  if (object instanceof protobuf.Service) {
    for (const method of object.methodsArray) collect(method, comments);
  }
  if (object instanceof protobuf.Enum) {
    for (const [value, comment] of Object.entries(object.comments)) {
      if (comment) comments.set(`${name}.${value}`, unwrap(comment));
    }
  }
  if (object instanceof protobuf.Namespace) {
    for (const nested of object.nestedArray) collect(nested, comments);
  }
}

/** A comment's paragraphs, each with its line breaks joined. */
function unwrap(comment: string): string {
  return comment
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) =>
      paragraph
        .split('\n')
        .map((line) => line.trim())
        .join(' '),
    )
    .join('\n\n');
}
