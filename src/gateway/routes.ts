import type { HttpBinding, PathTemplate } from './http-rules';

/** A request matched to a binding: the path variables' values by field path. */
export interface RouteMatch {
  readonly binding: HttpBinding;
  readonly variables: readonly { readonly fieldPath: readonly string[]; readonly value: string }[];
}

/** What a request path matched: a route, only other HTTP methods (405), or nothing (404). */
export type RouteLookup =
  | { readonly kind: 'match'; readonly match: RouteMatch }
  | { readonly kind: 'wrong-method'; readonly allow: readonly string[] }
  | { readonly kind: 'none' };

/**
 * The REST routes, built once from the `google.api.http` bindings: a request's method and path
 * find the binding whose template matches. Templates are tried in declaration order; literal
 * segments must match exactly, `*` takes one segment, `**` the rest; a template's verb
 * (`:chat`) must end the last segment.
 */
export class Routes {
  constructor(private readonly bindings: readonly HttpBinding[]) {}

  /** The first binding whose template matches `pathname`, whatever its HTTP method. */
  matchPath(pathname: string): RouteMatch | undefined {
    for (const method of new Set(this.bindings.map((b) => b.httpMethod))) {
      const found = this.lookup(method, pathname);
      if (found.kind === 'match') return found.match;
    }
    return undefined;
  }

  lookup(httpMethod: string, pathname: string): RouteLookup {
    const segments = splitPath(pathname);
    if (segments === undefined) return { kind: 'none' };
    const allow: string[] = [];
    for (const binding of this.bindings) {
      const values = matchTemplate(binding.template, segments);
      if (values === undefined) continue;
      const method = httpMethod === 'HEAD' ? 'GET' : httpMethod;
      if (binding.httpMethod !== method) {
        if (!allow.includes(binding.httpMethod)) allow.push(binding.httpMethod);
        continue;
      }
      const variables = binding.template.variables.map((v) => ({
        fieldPath: v.fieldPath,
        value: values.slice(v.start, v.start + v.length).join('/'),
      }));
      return { kind: 'match', match: { binding, variables } };
    }
    return allow.length > 0 ? { kind: 'wrong-method', allow } : { kind: 'none' };
  }
}

/** The decoded segments of a path, or undefined when one is not valid percent-encoding. */
function splitPath(pathname: string): string[] | undefined {
  try {
    return pathname.slice(1).split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** The values of a template's segments in `segments`, or undefined when it does not match. */
function matchTemplate(template: PathTemplate, segments: readonly string[]): string[] | undefined {
  let parts = segments;
  if (template.verb !== undefined) {
    const last = parts[parts.length - 1] ?? '';
    const suffix = `:${template.verb}`;
    if (!last.endsWith(suffix)) return undefined;
    parts = [...parts.slice(0, -1), last.slice(0, -suffix.length)];
  }
  const values: string[] = [];
  const pattern = template.segments;
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!;
    if (segment.kind === 'deep-wildcard') {
      values.push(parts.slice(i).join('/'));
      return values;
    }
    const part = parts[i];
    if (part === undefined || part === '') return undefined;
    if (segment.kind === 'literal' && segment.value !== part) return undefined;
    values.push(part);
  }
  return parts.length === pattern.length ? values : undefined;
}
