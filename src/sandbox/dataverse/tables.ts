/**
 * The Dataverse tables the identity audit reads, held in memory: rows per entity set, the N:N associations (a user's
 * roles, column-security profiles and team memberships; a team's roles and profiles — reference §1b) and the tables
 * an identity may not read (403 `0x80040220`).
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
    // teamtype: 0 Owner, 1 Access, 2 Microsoft Entra security group, 3 Microsoft 365 group; `isdefault` marks the
    // business unit's default team, of which every user of the unit is a member.
    def('teams', 'team', 9, ['name', 'teamtype', 'isdefault', '_businessunitid_value', 'azureactivedirectoryobjectid']),
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

/** The intersect tables of the N:N relationships: the entity sets on either side (pairs are [left id, right id]). */
export const INTERSECTS = {
  systemuserroles: ['systemusers', 'roles'],
  systemuserprofiles: ['systemusers', 'fieldsecurityprofiles'],
  teammembership: ['systemusers', 'teams'],
  teamroles: ['teams', 'roles'],
  teamprofiles: ['teams', 'fieldsecurityprofiles'],
} as const satisfies Record<string, readonly [string, string]>;

/** An intersect table's name. */
export type Intersect = keyof typeof INTERSECTS;

/**
 * The N:N navigation properties and their intersect tables. Both sides use the same name, as in Dataverse
 * (`systemusers(<id>)/teammembership_association` and `teams(<id>)/teammembership_association`).
 */
export const ASSOCIATIONS: Record<string, Intersect> = {
  systemuserroles_association: 'systemuserroles',
  systemuserprofiles_association: 'systemuserprofiles',
  teammembership_association: 'teammembership',
  teamroles_association: 'teamroles',
  teamprofiles_association: 'teamprofiles',
};

export type Row = Record<string, unknown>;

/** The rows of every table, the intersect pairs and the read denials. */
export interface DataverseTables {
  rows: Map<string, Row[]>;
  /** intersect table → pairs [left id, right id] (the sides of {@link INTERSECTS}). */
  links: Map<string, Array<[string, string]>>;
  /** Entity sets no caller may read (the `denyTable` option): their reads get 403 `0x80040220`. */
  denied: Set<string>;
  version: number;
}

export function createTables(): DataverseTables {
  return {
    rows: new Map(Object.keys(TABLES).map((s) => [s, []])),
    links: new Map(Object.keys(INTERSECTS).map((i) => [i, []])),
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

/** Associates two rows through an intersect table: `leftId` of its left side with `rightId` of its right side. */
export function link(tables: DataverseTables, intersect: Intersect, leftId: string, rightId: string) {
  tables.links.get(intersect)!.push([leftId, rightId]);
}

/** The rows related to `id` of `from` through `nav`, or undefined when `from` has no such navigation property. */
export function related(
  tables: DataverseTables,
  from: string,
  id: string,
  nav: string,
): { to: string; rows: Row[] } | undefined {
  const intersect = ASSOCIATIONS[nav];
  if (!intersect) return undefined;
  const [left, right] = INTERSECTS[intersect];
  if (from !== left && from !== right) return undefined;
  const fromLeft = from === left;
  const to = fromLeft ? right : left;
  const ids = new Set(
    tables.links
      .get(intersect)!
      .filter((p) => (fromLeft ? p[0] : p[1]) === id)
      .map((p) => (fromLeft ? p[1] : p[0])),
  );
  const key = TABLES[to]!.key;
  return { to, rows: tables.rows.get(to)!.filter((r) => ids.has(r[key] as string)) };
}
