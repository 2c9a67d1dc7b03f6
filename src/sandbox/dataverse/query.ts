/**
 * `GET /api/data/v9.2/<set>`, `<set>(<id>)` and `<set>(<id>)/<nav>` over the in-memory tables: `$select`, `$filter`,
 * `$top`, `$expand` of the N:N associations, server-side paging (`Prefer: odata.maxpagesize`, `@odata.nextLink` with
 * a `$skiptoken` paging cookie) and per-table read privileges, in Dataverse's wire shapes (reference §1f, §2).
 */
import { randomUUID } from 'node:crypto';
import { ODataQueryError, parseFilter } from './odata-filter.js';
import { TABLES, related, type DataverseTables, type Row, type TableDef } from './tables.js';

/** The answer of one query: status, extra headers and the JSON body. */
export interface QueryAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Who asks: the application user's id and access mode (for the privilege message). */
export interface Caller {
  userId: string;
}

const MAX_PAGE = 5000;
const error = (status: number, code: string, message: string): QueryAnswer => ({
  status,
  headers: {},
  body: { error: { code, message } },
});

function denied(table: TableDef, caller: Caller): QueryAnswer {
  const entity = table.logicalName;
  const prv = `prvRead${entity.charAt(0).toUpperCase()}${entity.slice(1)}`;
  return error(
    403,
    '0x80040220',
    `Principal user (Id=${caller.userId}, type=8, roleCount=1, privilegeCount=412, accessMode=4), is missing ${prv} ` +
      `privilege (Id=${randomUUID()}) on OTC=${table.otc} for entity '${entity}'. context.Caller=${caller.userId}`,
  );
}

interface Expand {
  nav: string;
  select?: string[];
  filter?: string;
}

/** Splits on commas outside parentheses. */
function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === sep && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) parts.push(cur);
  return parts;
}

function parseExpand(src: string): Expand[] {
  return splitTop(src, ',').map((item) => {
    const m = /^([A-Za-z_]+)(?:\((.*)\))?$/.exec(item.trim());
    if (!m) throw new ODataQueryError(`Syntax error in $expand: ${item}`);
    const ex: Expand = { nav: m[1]! };
    for (const opt of m[2] ? splitTop(m[2], ';') : []) {
      const eq = opt.indexOf('=');
      const name = opt.slice(0, eq);
      const value = opt.slice(eq + 1);
      if (name === '$select') ex.select = value.split(',');
      else if (name === '$filter') ex.filter = value;
      else throw new ODataQueryError(`The query option '${name}' is not supported in this nested $expand.`);
    }
    return ex;
  });
}

function checkColumns(table: TableDef, cols: string[] | undefined) {
  for (const c of cols ?? []) {
    if (!table.columns.includes(c)) {
      throw new ODataQueryError(
        `Could not find a property named '${c}' on type 'Microsoft.Dynamics.CRM.${table.logicalName}'.`,
      );
    }
  }
}

function shape(table: TableDef, row: Row, select: string[] | undefined, annotate: boolean): Row {
  const cols = select ? [table.key, ...select.filter((c) => c !== table.key)] : table.columns;
  const out: Row = { '@odata.etag': `W/"${row['@version'] as string}"` };
  for (const c of cols) {
    out[c] = row[c] ?? null;
    if (annotate && c === '_ownerid_value' && row[c])
      out[`${c}@Microsoft.Dynamics.CRM.lookuplogicalname`] = 'systemuser';
  }
  return out;
}

/** The paging cookie Dataverse puts in `$skiptoken` (its shape, URL-encoded once in the link). */
const cookie = (page: number, lastId: string) =>
  `<cookie pagenumber="${page}" pagingcookie="${encodeURIComponent(`<cookie page="${page - 1}"><id last="{${lastId.toUpperCase()}}" /></cookie>`)}" istracking="False" />`;

/**
 * Answers one GET. `path` is what follows `/api/data/v9.2/`; `url` is the request's absolute URL (the base of
 * `@odata.nextLink`); `prefer` is the `Prefer` header.
 */
export function answerQuery(
  tables: DataverseTables,
  caller: Caller,
  baseUrl: string,
  path: string,
  query: URLSearchParams,
  prefer: string,
): QueryAnswer {
  const m = /^([a-z_]+)(?:\(([0-9a-fA-F-]{36})\))?(?:\/([A-Za-z_]+))?$/.exec(path);
  const table = m ? TABLES[m[1]!] : undefined;
  if (!m || !table) {
    return error(404, '0x80060888', `Resource not found for the segment '${path.split(/[(/]/)[0]}'.`);
  }
  if (tables.denied.has(table.set)) return denied(table, caller);
  const annotate = /odata\.include-annotations="[^"]*(\*|lookuplogicalname)/.test(prefer);
  try {
    let target = table;
    let rows = tables.rows.get(table.set)!;
    if (m[2]) {
      const id = m[2].toLowerCase();
      const row = rows.find((r) => r[table.key] === id);
      if (!row) return error(404, '0x80040217', `${table.logicalName} With Ids = ${id} Do Not Exist`);
      if (m[3]) {
        const rel = related(tables, table.set, id, m[3]);
        if (!rel)
          throw new ODataQueryError(
            `Could not find a property named '${m[3]}' on type 'Microsoft.Dynamics.CRM.${table.logicalName}'.`,
          );
        target = TABLES[rel.to]!;
        if (tables.denied.has(target.set)) return denied(target, caller);
        rows = rel.rows;
      } else {
        rows = [row];
      }
    }
    const select = query.get('$select')?.split(',');
    checkColumns(target, select);
    const filter = query.get('$filter');
    if (filter) {
      const pred = parseFilter(filter, (c) => target.columns.includes(c));
      rows = rows.filter(pred);
    }
    const expands = query.get('$expand') ? parseExpand(query.get('$expand')!) : [];
    if (expands.length > 15) throw new ODataQueryError('The number of expand options exceeds 15.');
    const expandRow = (row: Row, out: Row) => {
      for (const ex of expands) {
        const rel = related(tables, target.set, row[target.key] as string, ex.nav);
        if (!rel)
          throw new ODataQueryError(
            `Could not find a property named '${ex.nav}' on type 'Microsoft.Dynamics.CRM.${target.logicalName}'.`,
          );
        const relTable = TABLES[rel.to]!;
        if (tables.denied.has(relTable.set))
          throw Object.assign(new Error('denied'), { answer: denied(relTable, caller) });
        checkColumns(relTable, ex.select);
        let children = rel.rows;
        if (ex.filter) children = children.filter(parseFilter(ex.filter, (c) => relTable.columns.includes(c)));
        out[ex.nav] = children.map((c) => shape(relTable, c, ex.select, annotate));
      }
      return out;
    };
    const context = `${baseUrl}/api/data/v9.2/$metadata#${target.set}(${(select ?? []).join(',')})`;
    if (m[2] && !m[3]) {
      return {
        status: 200,
        headers: {},
        body: {
          '@odata.context': `${context}/$entity`,
          ...expandRow(rows[0]!, shape(target, rows[0]!, select, annotate)),
        },
      };
    }
    const maxMatch = /odata\.maxpagesize=(\d+)/.exec(prefer);
    const pageSize = maxMatch ? Math.min(Number(maxMatch[1]), MAX_PAGE) : MAX_PAGE;
    const headers: Record<string, string> = maxMatch ? { 'preference-applied': `odata.maxpagesize=${pageSize}` } : {};
    const top = query.get('$top');
    // $top is ignored when a page size is asked for (reference §2), and then paging applies.
    if (top && !maxMatch) rows = rows.slice(0, Number(top));
    const skiptoken = query.get('$skiptoken');
    const page = skiptoken ? Number(/pagenumber="(\d+)"/.exec(skiptoken)?.[1] ?? NaN) : 1;
    if (!Number.isInteger(page) || page < 1) throw new ODataQueryError('The $skiptoken is not a valid paging cookie.');
    const slice = rows.slice((page - 1) * pageSize, page * pageSize);
    const body: Row = {
      '@odata.context': context,
      value: slice.map((r) => expandRow(r, shape(target, r, select, annotate))),
    };
    if (page * pageSize < rows.length && !(top && !maxMatch)) {
      const next = new URL(`${baseUrl}/api/data/v9.2/${path}`);
      for (const [k, v] of query) if (k !== '$skiptoken') next.searchParams.append(k, v);
      next.searchParams.append('$skiptoken', cookie(page + 1, slice[slice.length - 1]![target.key] as string));
      body['@odata.nextLink'] = next.toString();
    }
    return { status: 200, headers, body };
  } catch (err) {
    if (err instanceof ODataQueryError) return error(400, '0x80060888', err.message);
    if (err && typeof err === 'object' && 'answer' in err) return (err as { answer: QueryAnswer }).answer;
    throw err;
  }
}
