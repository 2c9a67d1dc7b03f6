/**
 * The OData `$filter` subset Dataverse answers and the audit sends: `eq`/`ne`, `and`/`or`/`not`, parentheses and
 * `contains(prop,'text')`. Literals: 'strings' ('' escapes a quote), unquoted GUIDs, numbers, true/false/null.
 * Dataverse compares strings and GUIDs case-insensitively, so does this.
 */

/** A parsed filter: a predicate over a row. */
export type RowPredicate = (row: Record<string, unknown>) => boolean;

/** A `$filter` Dataverse would refuse: answered with 400 `0x80060888`. */
export class ODataQueryError extends Error {}

type Literal = string | number | boolean | null;
type Token = { kind: 'word' | 'string' | 'punct'; text: string };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ODataQueryError(`Unterminated string literal in $filter: ${src}`);
        if (src[i] === "'" && src[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (src[i] === "'") {
          i++;
          break;
        } else text += src[i++];
      }
      tokens.push({ kind: 'string', text });
    } else {
      const m = /^[^ (),']+/.exec(src.slice(i))!;
      tokens.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function literal(t: Token | undefined): Literal {
  if (!t) throw new ODataQueryError('Expected a literal at the end of $filter.');
  if (t.kind === 'string') return t.text;
  if (t.kind !== 'word') throw new ODataQueryError(`Expected a literal, found '${t.text}'.`);
  if (t.text === 'null') return null;
  if (t.text === 'true' || t.text === 'false') return t.text === 'true';
  if (GUID.test(t.text)) return t.text.toLowerCase();
  if (/^-?\d+(\.\d+)?$/.test(t.text)) return Number(t.text);
  throw new ODataQueryError(`Syntax error at '${t.text}' in $filter.`);
}

function same(a: unknown, b: Literal): boolean {
  if (a === undefined || a === null) return b === null;
  if (b === null) return false;
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

/**
 * Parses `$filter`; `hasColumn` tells a known column from an unknown one, which Dataverse refuses with
 * "Could not find a property named …".
 */
export function parseFilter(src: string, hasColumn: (name: string) => boolean): RowPredicate {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const expectPunct = (p: string) => {
    const t = next();
    if (!t || t.kind !== 'punct' || t.text !== p) throw new ODataQueryError(`Expected '${p}' in $filter: ${src}`);
  };
  const column = (t: Token | undefined): string => {
    if (!t || t.kind !== 'word') throw new ODataQueryError(`Expected a property name in $filter: ${src}`);
    if (!hasColumn(t.text)) throw new ODataQueryError(`Could not find a property named '${t.text}'.`);
    return t.text;
  };
  const orExpr = (): RowPredicate => {
    let left = andExpr();
    while (peek()?.kind === 'word' && peek()!.text === 'or') {
      next();
      const l = left;
      const r = andExpr();
      left = (row) => l(row) || r(row);
    }
    return left;
  };
  const andExpr = (): RowPredicate => {
    let left = unary();
    while (peek()?.kind === 'word' && peek()!.text === 'and') {
      next();
      const l = left;
      const r = unary();
      left = (row) => l(row) && r(row);
    }
    return left;
  };
  const unary = (): RowPredicate => {
    if (peek()?.kind === 'word' && peek()!.text === 'not') {
      next();
      const inner = primary();
      return (row) => !inner(row);
    }
    return primary();
  };
  const primary = (): RowPredicate => {
    const t = next();
    if (t?.kind === 'punct' && t.text === '(') {
      const inner = orExpr();
      expectPunct(')');
      return inner;
    }
    if (t?.kind === 'word' && t.text === 'contains') {
      expectPunct('(');
      const col = column(next());
      expectPunct(',');
      const needle = literal(next());
      expectPunct(')');
      if (typeof needle !== 'string') throw new ODataQueryError('contains() takes a string literal.');
      return (row) => typeof row[col] === 'string' && (row[col] as string).toLowerCase().includes(needle.toLowerCase());
    }
    const col = column(t);
    const op = next();
    if (!op || op.kind !== 'word' || (op.text !== 'eq' && op.text !== 'ne')) {
      throw new ODataQueryError(`Unsupported operator '${op?.text ?? ''}' in $filter (eq, ne, contains).`);
    }
    const value = literal(next());
    return op.text === 'eq' ? (row) => same(row[col], value) : (row) => !same(row[col], value);
  };
  const predicate = orExpr();
  if (pos !== tokens.length) throw new ODataQueryError(`Syntax error at '${tokens[pos]!.text}' in $filter.`);
  return predicate;
}
