/**
 * `$filter` for directory collections, the subset Graph v1.0 documents for applications and service principals
 * without advanced queries: `eq` and `in` on the resource's filterable properties, `startswith(prop,'…')`, `and`/`or`,
 * parentheses, and `keyCredentials/any(x:x/keyId eq …)`. A malformed clause is Graph's 400 BadRequest
 * "Invalid filter clause"; a well-formed one on a property or operator the resource does not support is
 * 400 Request_UnsupportedQuery "Unsupported or invalid query filter clause specified for property …", as Graph
 * answers (Graph filter-query-parameter.md and the resource pages list which property supports which operator).
 */
import { GraphHttpError } from './errors.js';

/** How one resource type may be filtered: its name in error messages and each property's supported operators. */
export interface FilterSchema<T> {
  /** `Application`, `ServicePrincipal` (as Graph names the resource in its messages). */
  resource: string;
  /** Properties and their string value; `startswith` only where listed. */
  properties: Record<string, { value: (item: T) => string; startsWith: boolean }>;
  /** The keyIds of the item's key credentials, for `keyCredentials/any(x:x/keyId eq …)`. */
  keyIds: (item: T) => string[];
}

export type Predicate<T> = (item: T) => boolean;

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'punct'; text: '(' | ')' | ',' | ':' | '/'; at: number };

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      // OData strings: a quote inside is written twice.
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= filter.length) throw syntaxError(filter, i);
        if (filter[j] === "'") {
          if (filter[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += filter[j];
        j++;
      }
      tokens.push({ kind: 'string', text, at: i });
      i = j + 1;
    } else if ('(),:/'.includes(c)) {
      tokens.push({ kind: 'punct', text: c as '(' | ')' | ',' | ':' | '/', at: i });
      i++;
    } else {
      const m = /^[A-Za-z0-9_.@$#-]+/.exec(filter.slice(i));
      if (!m) throw syntaxError(filter, i);
      tokens.push({ kind: 'word', text: m[0], at: i });
      i += m[0].length;
    }
  }
  return tokens;
}

function syntaxError(filter: string, at: number): GraphHttpError {
  return new GraphHttpError(400, 'BadRequest', `Invalid filter clause: Syntax error at position ${at} in '${filter}'.`);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses `filter` into a predicate over items of the schema's resource, or throws Graph's 400. */
export function parseFilter<T>(filter: string, schema: FilterSchema<T>): Predicate<T> {
  const tokens = tokenize(filter);
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (): never => {
    throw syntaxError(filter, peek()?.at ?? filter.length);
  };
  const unsupportedProperty = (prop: string) =>
    new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${schema.resource}'.`,
    );
  const expectPunct = (p: string) => {
    const t = peek();
    if (t?.kind !== 'punct' || t.text !== p) fail();
    pos++;
  };
  const word = (): string => {
    const t = peek();
    if (t?.kind !== 'word') return fail();
    pos++;
    return t.text;
  };
  const isWord = (w: string) => {
    const t = peek();
    return t?.kind === 'word' && t.text.toLowerCase() === w;
  };
  /** A literal: a quoted string, or an unquoted GUID (Edm.Guid), or null. */
  const literal = (): string => {
    const t = peek();
    if (t?.kind === 'string') {
      pos++;
      return t.text;
    }
    if (t?.kind === 'word' && GUID.test(t.text)) {
      pos++;
      return t.text;
    }
    return fail();
  };
  const property = (name: string) => {
    const p =
      schema.properties[name] ??
      schema.properties[Object.keys(schema.properties).find((k) => k.toLowerCase() === name.toLowerCase()) ?? ''];
    if (!p) throw unsupportedProperty(name);
    return p;
  };

  function primary(): Predicate<T> {
    const t = peek();
    if (t?.kind === 'punct' && t.text === '(') {
      pos++;
      const inner = or();
      expectPunct(')');
      return inner;
    }
    const name = word();
    if (name.toLowerCase() === 'startswith') {
      expectPunct('(');
      const propName = word();
      expectPunct(',');
      const prefix = literal().toLowerCase();
      expectPunct(')');
      const p = property(propName);
      if (!p.startsWith) throw unsupportedProperty(propName);
      return (item) => p.value(item).toLowerCase().startsWith(prefix);
    }
    const next = peek();
    if (next?.kind === 'punct' && next.text === '/') {
      // A lambda over a collection: only keyCredentials/any(x:x/keyId eq …) is supported.
      pos++;
      const op = word();
      if (name.toLowerCase() !== 'keycredentials') throw unsupportedProperty(name);
      if (op.toLowerCase() !== 'any') throw unsupportedProperty(name);
      expectPunct('(');
      const variable = word();
      expectPunct(':');
      if (word() !== variable) fail();
      expectPunct('/');
      const inner = word();
      if (inner.toLowerCase() !== 'keyid') {
        throw new GraphHttpError(
          400,
          'Request_UnsupportedQuery',
          `This query on '${schema.resource}' for 'KeyCredential' is not supported.`,
        );
      }
      if (!isWord('eq')) {
        if (peek()?.kind === 'word') throw unsupportedProperty('keyCredentials');
        fail();
      }
      pos++;
      const keyId = literal().toLowerCase();
      expectPunct(')');
      return (item) => schema.keyIds(item).some((k) => k.toLowerCase() === keyId);
    }
    const operator = word().toLowerCase();
    if (operator === 'in') {
      // `prop in ('a','b')`: the default (non-advanced) operator list of appId, displayName and id includes it.
      expectPunct('(');
      const values = [literal().toLowerCase()];
      while (peek()?.kind === 'punct' && peek()?.text === ',') {
        pos++;
        values.push(literal().toLowerCase());
      }
      expectPunct(')');
      const p = property(name);
      return (item) => values.includes(p.value(item).toLowerCase());
    }
    const value = literal();
    if (operator !== 'eq') {
      if (['ne', 'gt', 'ge', 'lt', 'le', 'has'].includes(operator)) throw unsupportedProperty(name);
      fail();
    }
    const p = property(name);
    const wanted = value.toLowerCase();
    return (item) => p.value(item).toLowerCase() === wanted;
  }
  function and(): Predicate<T> {
    let left = primary();
    while (isWord('and')) {
      pos++;
      const l = left;
      const r = primary();
      left = (item) => l(item) && r(item);
    }
    return left;
  }
  function or(): Predicate<T> {
    let left = and();
    while (isWord('or')) {
      pos++;
      const l = left;
      const r = and();
      left = (item) => l(item) || r(item);
    }
    return left;
  }

  if (tokens.length === 0) fail();
  const predicate = or();
  if (pos !== tokens.length) fail();
  return predicate;
}
