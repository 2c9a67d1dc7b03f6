/**
 * The Dataverse tables the identity audit reads, held in memory: rows per entity set, the two N:N associations of
 * systemuser (roles and column-security profiles) and the tables an identity may not read (403 `0x80040220`).
 */

/** One table: its entity set, logical name, primary key, object type code and columns. */
export interface TableDef {
  set: string;
  logicalName: string;
  key: string;
  otc: number;
  columns: readonly string[];
}

const def = (set: string, logicalName: string, otc: number, columns: string[]): TableDef => ({
  set,
  logicalName,
  key: `${logicalName}id`,
  otc,
  columns: [`${logicalName}id`, ...columns],
});

/** The tables of the sandbox Dataverse, by entity set. */
export const TABLES: Record<string, TableDef> = Object.fromEntries(
  [
    def('systemusers', 'systemuser', 8, [
      'fullname',
      'domainname',
      'applicationid',
      'applicationiduri',
      'azureactivedirectoryobjectid',
      'accessmode',
      'isdisabled',
      'issyncwithdirectory',
      'azurestate',
      'systemmanagedusertype',
      '_businessunitid_value',
    ]),
    def('roles', 'role', 1036, ['name', '_businessunitid_value', '_parentrootroleid_value', '_roletemplateid_value']),
    def('fieldsecurityprofiles', 'fieldsecurityprofile', 1200, ['name', 'description']),
    def('workflows', 'workflow', 4703, [
      'name',
      'uniquename',
      'category',
      'mode',
      'type',
      'statecode',
      'statuscode',
      'scope',
      'runas',
      'primaryentity',
      'ismanaged',
      '_ownerid_value',
      '_owninguser_value',
    ]),
    def('adx_webtemplates', 'adx_webtemplate', 10280, ['adx_name', 'adx_source', '_adx_websiteid_value']),
    def('adx_webpages', 'adx_webpage', 10285, [
      'adx_name',
      'adx_copy',
      'adx_customjavascript',
      'adx_customcss',
      '_adx_websiteid_value',
    ]),
    def('adx_contentsnippets', 'adx_contentsnippet', 10220, ['adx_name', 'adx_value', '_adx_websiteid_value']),
    def('adx_entitylists', 'adx_entitylist', 10230, [
      'adx_name',
      'adx_registerstartupscript',
      'adx_filter_definition',
      'adx_views',
      '_adx_websiteid_value',
    ]),
    def('powerpagecomponents', 'powerpagecomponent', 10353, [
      'name',
      'powerpagecomponenttype',
      'content',
      'statecode',
      '_powerpagesiteid_value',
      '_powerpagesitelanguageid_value',
    ]),
  ].map((t) => [t.set, t]),
);

/** A collection-valued navigation property: an N:N association read through its intersect table. */
export interface Association {
  from: string;
  to: string;
  /** The intersect table's name (`systemuserroles`, `systemuserprofiles`). */
  intersect: string;
}

/** The N:N associations, by navigation property; both directions use the same name, as in Dataverse. */
export const ASSOCIATIONS: Record<string, Association[]> = {
  systemuserroles_association: [{ from: 'systemusers', to: 'roles', intersect: 'systemuserroles' }],
  systemuserprofiles_association: [
    { from: 'systemusers', to: 'fieldsecurityprofiles', intersect: 'systemuserprofiles' },
    { from: 'fieldsecurityprofiles', to: 'systemusers', intersect: 'systemuserprofiles' },
  ],
};

export type Row = Record<string, unknown>;

/** The rows of every table, the intersect pairs and the read denials. */
export interface DataverseTables {
  rows: Map<string, Row[]>;
  /** intersect table → pairs [systemuserid, other id]. */
  links: Map<string, Array<[string, string]>>;
  /** Entity sets no caller may read (the `denyTable` option): their reads get 403 `0x80040220`. */
  denied: Set<string>;
  version: number;
}

export function createTables(): DataverseTables {
  return {
    rows: new Map(Object.keys(TABLES).map((s) => [s, []])),
    links: new Map([
      ['systemuserroles', []],
      ['systemuserprofiles', []],
    ]),
    denied: new Set(),
    version: 1000,
  };
}

/** Inserts a row (its primary key must be set); every column of the table not given is null, as OData returns. */
export function insertRow(tables: DataverseTables, set: string, row: Row): Row {
  const table = TABLES[set];
  if (!table) throw new Error(`unknown entity set ${set}`);
  const full: Row = Object.fromEntries(table.columns.map((c) => [c, row[c] ?? null]));
  full['@version'] = String(++tables.version);
  tables.rows.get(set)!.push(full);
  return full;
}

/** Associates a system user with a role or a column-security profile. */
export function link(
  tables: DataverseTables,
  intersect: 'systemuserroles' | 'systemuserprofiles',
  userId: string,
  otherId: string,
) {
  tables.links.get(intersect)!.push([userId, otherId]);
}

/** The rows related to `id` of `from` through `nav`, or undefined when `from` has no such navigation property. */
export function related(
  tables: DataverseTables,
  from: string,
  id: string,
  nav: string,
): { to: string; rows: Row[] } | undefined {
  const assoc = ASSOCIATIONS[nav]?.find((a) => a.from === from);
  if (!assoc) return undefined;
  const pairs = tables.links.get(assoc.intersect)!;
  const ids = new Set(
    pairs
      .filter((p) => (from === 'systemusers' ? p[0] : p[1]) === id)
      .map((p) => (from === 'systemusers' ? p[1] : p[0])),
  );
  const key = TABLES[assoc.to]!.key;
  return { to: assoc.to, rows: tables.rows.get(assoc.to)!.filter((r) => ids.has(r[key] as string)) };
}
