import type * as protoLoader from '@grpc/proto-loader';

/** One segment of a parsed path template. */
export type TemplateSegment =
  | { readonly kind: 'literal'; readonly value: string }
  /** `*`: exactly one path segment. */
  | { readonly kind: 'wildcard' }
  /** `**`: the rest of the path, zero or more segments (last only). */
  | { readonly kind: 'deep-wildcard' };

/** A `{field.path=pattern}` variable: the segments it spans set the request field. */
export interface TemplateVariable {
  /** The request field the matched text sets, e.g. `['lo', 'latitude']`. */
  readonly fieldPath: readonly string[];
  /** Index of the variable's first segment in {@link PathTemplate.segments}. */
  readonly start: number;
  /** Segments it spans (`{x}` is `{x=*}`: one). A `**` span ends the template. */
  readonly length: number;
}

/**
 * A `google.api.http` path template (`/v1/features/{latitude}/{longitude}`,
 * `/v1/notes:chat`), grammar as in google/api/http.proto:
 * `Template = "/" Segments [ Verb ]`, `Segment = "*" | "**" | LITERAL | Variable`,
 * `Variable = "{" FieldPath [ "=" Segments ] "}"`, `Verb = ":" LITERAL`.
 */
export interface PathTemplate {
  /** The template as written in the proto. */
  readonly source: string;
  /** Every segment, variables expanded to what they match. */
  readonly segments: readonly TemplateSegment[];
  readonly variables: readonly TemplateVariable[];
  /** The custom verb after the last segment (`chat` in `/v1/notes:chat`), if any. */
  readonly verb: string | undefined;
}

/** One HTTP binding of a gRPC method, from its `google.api.http` option. */
export interface HttpBinding {
  /** Fully qualified service name, e.g. `routeguide.RouteGuide`. */
  readonly service: string;
  /** Method name, e.g. `GetFeature`. */
  readonly method: string;
  /** The gRPC path, e.g. `/routeguide.RouteGuide/GetFeature`. */
  readonly grpcPath: string;
  /** `GET`, `PUT`, `POST`, `DELETE`, `PATCH`, or a custom rule's kind, upper-cased. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /**
   * Which request field the HTTP body fills: `*` for the whole message, a field name, or
   * undefined when the request has no body (fields then come from the path and the query).
   */
  readonly body: string | undefined;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  /** Fully qualified request and response message names, e.g. `routeguide.Point`. */
  readonly requestType: string;
  readonly responseType: string;
}

/** The shape of the `google.api.HttpRule` option as @grpc/proto-loader hands it over. */
interface HttpRuleOption {
  readonly get?: string;
  readonly put?: string;
  readonly post?: string;
  readonly delete?: string;
  readonly patch?: string;
  readonly custom?: { readonly kind?: string; readonly path?: string };
  readonly body?: string;
  readonly additional_bindings?: readonly HttpRuleOption[] | HttpRuleOption;
}

/** Thrown for an annotation the gateway cannot serve: names the method and what is wrong. */
export class HttpRuleError extends Error {
  constructor(where: string, problem: string) {
    super(`google.api.http on ${where}: ${problem}`);
    this.name = 'HttpRuleError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL = /^[A-Za-z0-9._~!$&'()+,;=@-]+$/;
const STANDARD_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Parses one path template; throws {@link HttpRuleError} (with `where`) when it is malformed. */
export function parsePathTemplate(source: string, where = source): PathTemplate {
  if (!source.startsWith('/'))
    throw new HttpRuleError(where, `template "${source}" must start with /`);
  const { path, verb } = splitVerb(source.slice(1), where);
  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  for (const token of tokenizeSegments(path, where)) {
    if (token.startsWith('{')) {
      variables.push(parseVariable(token, segments, where));
    } else {
      segments.push(parseSegment(token, where));
    }
  }
  const deep = segments.findIndex((s) => s.kind === 'deep-wildcard');
  if (deep >= 0 && deep !== segments.length - 1) {
    throw new HttpRuleError(where, `"**" must be the last segment of "${source}"`);
  }
  return { source, segments, variables, verb };
}

/** Splits the custom verb (`:chat`) off the last segment, outside any `{…}`. */
function splitVerb(path: string, where: string): { path: string; verb: string | undefined } {
  const lastSlash = path.lastIndexOf('/');
  const lastBrace = path.lastIndexOf('}');
  const colon = path.lastIndexOf(':');
  if (colon < 0 || colon < lastSlash || colon < lastBrace) return { path, verb: undefined };
  const verb = path.slice(colon + 1);
  if (!LITERAL.test(verb)) throw new HttpRuleError(where, `bad verb ":${verb}"`);
  return { path: path.slice(0, colon), verb };
}

/** Splits at the `/` that are not inside a `{…}` variable. */
function tokenizeSegments(path: string, where: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    const c = path[i];
    if (c === '{') depth++;
    if (c === '}') depth--;
    if (depth < 0 || depth > 1) throw new HttpRuleError(where, `unbalanced braces in "/${path}"`);
    if ((c === '/' && depth === 0) || i === path.length) {
      tokens.push(path.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new HttpRuleError(where, `unbalanced braces in "/${path}"`);
  if (tokens.some((t) => t === '')) throw new HttpRuleError(where, `empty segment in "/${path}"`);
  return tokens;
}

function parseSegment(token: string, where: string): TemplateSegment {
  if (token === '*') return { kind: 'wildcard' };
  if (token === '**') return { kind: 'deep-wildcard' };
  if (!LITERAL.test(token)) throw new HttpRuleError(where, `bad segment "${token}"`);
  return { kind: 'literal', value: token };
}

/** `{a.b}` or `{a.b=x/*}`: appends the segments it spans, returns the variable. */
function parseVariable(
  token: string,
  segments: TemplateSegment[],
  where: string,
): TemplateVariable {
  const inner = token.slice(1, -1);
  const eq = inner.indexOf('=');
  const fieldPath = (eq < 0 ? inner : inner.slice(0, eq)).split('.');
  if (!fieldPath.every((part) => IDENT.test(part))) {
    throw new HttpRuleError(where, `bad field path in "${token}"`);
  }
  const pattern = eq < 0 ? ['*'] : inner.slice(eq + 1).split('/');
  if (pattern.some((p) => p === '' || p.includes('{'))) {
    throw new HttpRuleError(where, `bad pattern in "${token}"`);
  }
  const start = segments.length;
  for (const part of pattern) segments.push(parseSegment(part, where));
  return { fieldPath, start, length: pattern.length };
}

/** Every binding of one method's rule: the rule itself, then its additional bindings. */
function bindingsOfRule(
  rule: HttpRuleOption,
  base: Omit<HttpBinding, 'httpMethod' | 'template' | 'body'>,
  nested: boolean,
): HttpBinding[] {
  const where = `${base.service}.${base.method}`;
  const pattern = rulePattern(rule, where);
  const bindings: HttpBinding[] = [
    {
      ...base,
      httpMethod: pattern.httpMethod,
      template: parsePathTemplate(pattern.path, where),
      body: rule.body === undefined || rule.body === '' ? undefined : rule.body,
    },
  ];
  const more = rule.additional_bindings;
  if (more !== undefined) {
    if (nested) throw new HttpRuleError(where, 'additional_bindings may not nest');
    for (const extra of Array.isArray(more) ? more : [more]) {
      bindings.push(...bindingsOfRule(extra as HttpRuleOption, base, true));
    }
  }
  return bindings;
}

/** The one HTTP method and path a rule names. */
function rulePattern(rule: HttpRuleOption, where: string): { httpMethod: string; path: string } {
  const named = STANDARD_METHODS.filter((m) => typeof rule[m] === 'string' && rule[m] !== '');
  const custom = rule.custom?.kind ? rule.custom : undefined;
  if (named.length + (custom ? 1 : 0) !== 1) {
    throw new HttpRuleError(
      where,
      'a rule names exactly one of get, put, post, delete, patch, custom',
    );
  }
  if (custom) return { httpMethod: custom.kind!.toUpperCase(), path: custom.path ?? '' };
  const method = named[0]!;
  return { httpMethod: method.toUpperCase(), path: rule[method]! };
}

/**
 * The fully qualified name of a method's request or response type. proto-loader builds these
 * definitions apart from the package's, so they are found by name and descriptor: the service's
 * own package first, then any package with an identical message of that name.
 */
function typeName(
  definition: protoLoader.MessageTypeDefinition<object, object>,
  service: string,
  packageDefinition: protoLoader.PackageDefinition,
): string {
  const shortName = (definition.type as { name?: string }).name ?? '';
  const descriptor = JSON.stringify(definition.type);
  const own = `${service.slice(0, service.lastIndexOf('.') + 1)}${shortName}`;
  const names = [own, ...Object.keys(packageDefinition).filter((n) => n.endsWith(`.${shortName}`))];
  for (const name of names) {
    const candidate = packageDefinition[name];
    if (candidate && 'type' in candidate && JSON.stringify(candidate.type) === descriptor) {
      return name;
    }
  }
  throw new Error(`http-rules: ${service} uses ${shortName}, which its package definition lacks`);
}

/**
 * The HTTP bindings of every annotated method of a package definition, in declaration order.
 * Methods without `google.api.http` get none (they stay gRPC-only). Throws
 * {@link HttpRuleError} for a malformed annotation, so a bad proto fails at start-up.
 */
export function httpBindings(packageDefinition: protoLoader.PackageDefinition): HttpBinding[] {
  const bindings: HttpBinding[] = [];
  for (const [service, definition] of Object.entries(packageDefinition)) {
    if ('format' in definition) continue; // a message or enum, not a service
    for (const [method, m] of Object.entries(definition as protoLoader.ServiceDefinition)) {
      const rule = (m.options as Record<string, unknown> | undefined)?.['(google.api.http)'];
      if (rule === undefined) continue;
      bindings.push(
        ...bindingsOfRule(
          rule as HttpRuleOption,
          {
            service,
            method,
            grpcPath: m.path,
            requestStream: m.requestStream,
            responseStream: m.responseStream,
            requestType: typeName(m.requestType, service, packageDefinition),
            responseType: typeName(m.responseType, service, packageDefinition),
          },
          false,
        ),
      );
    }
  }
  return bindings;
}
