/**
 * Finds FetchXML in Liquid (and raw `<fetch>` in scripts) that depends on the SYSTEM identity (reference §1e):
 * conditions on an owner column with SYSTEM's id in any spelling, `uiname="SYSTEM"`, a `systemuser` link-entity
 * filtered on SYSTEM, and user operators (`eq-userid`, …) whose meaning moves with the S2S identity. Liquid is masked
 * before parsing; a block that does not parse is a finding of its own, never a crash.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Finding, RecordRef, Severity, FindingKind } from './finding.js';

const OWNER_COLUMNS = new Set([
  'ownerid',
  'owninguser',
  'createdby',
  'modifiedby',
  'createdonbehalfby',
  'modifiedonbehalfby',
]);
const USER_OPERATORS =
  /^(eq-userid|ne-userid|eq-useroruserteams|eq-useroruserhierarchy|eq-useroruserhierarchyandteams)$/i;
/** What a masked `{{ … }}` becomes: a value built at runtime. */
const LIQUID_VALUE = 'LIQUIDEXPR';

const FIX_OWNER =
  'secure with table permissions and web roles instead of the owner filter (the owner changes when the site leaves SYSTEM)';
const FIX_OPERATOR =
  'the user operator compares with the S2S identity, not the visitor: use table permissions and web roles, or filter on the contact ({{ user.id }})';

/** Normalises a GUID as designers write it: braces stripped, lowercase. */
export const normaliseGuid = (s: string) =>
  s
    .trim()
    .replace(/^\{|\}$/g, '')
    .toLowerCase();

/** Replaces Liquid with inert text so that the XML parser sees only XML. */
export function maskLiquid(src: string): string {
  return src.replace(/\{\{[\s\S]*?\}\}/g, LIQUID_VALUE).replace(/\{%[\s\S]*?%\}/g, '');
}

/** The FetchXML documents of a text: `{% fetchxml v %}…{% endfetchxml %}` blocks, then raw `<fetch>…</fetch>`. */
export function extractFetchXml(src: string): { xml: string; complete: boolean }[] {
  const out: { xml: string; complete: boolean }[] = [];
  const rest = src.replace(
    /\{%-?\s*fetchxml\b[^%]*-?%\}([\s\S]*?)(\{%-?\s*endfetchxml\s*-?%\}|$)/g,
    (_m, body: string, end: string) => {
      out.push({ xml: body, complete: end !== '' });
      return ' ';
    },
  );
  for (const m of rest.matchAll(/<fetch\b[\s\S]*?(<\/fetch>|$)/g)) out.push({ xml: m[0], complete: m[1] !== '' });
  return out;
}

type Node = Record<string, unknown>;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  commentPropName: '#comment',
});

const attrs = (n: Node) =>
  Object.entries(n)
    .filter(([k]) => k.startsWith('@'))
    .map(([k, v]) => `${k.slice(1)}="${String(v)}"`)
    .join(' ');
const excerptOf = (n: Node) => `<condition ${attrs(n)}>`.slice(0, 200);
const children = (n: Node, name: string): Node[] =>
  ((n[name] as unknown[] | undefined) ?? []).map((c) => (typeof c === 'object' && c ? (c as Node) : { '#text': c }));
const values = (n: Node): { text: string; uiname?: string }[] => [
  ...(n['@value'] !== undefined ? [{ text: String(n['@value']) }] : []),
  ...children(n, 'value').map((v) => ({
    text: String(v['#text'] ?? ''),
    ...(v['@uiname'] !== undefined ? { uiname: String(v['@uiname']) } : {}),
  })),
];

interface Hit {
  kind: FindingKind;
  severity: Severity;
  excerpt: string;
  fix: string;
}

function conditionHits(cond: Node, entity: string, systemId: string): Hit[] {
  const attribute = String(cond['@attribute'] ?? '').toLowerCase();
  const operator = String(cond['@operator'] ?? '');
  const vals = values(cond);
  const isSystemId = vals.some((v) => normaliseGuid(v.text) === systemId);
  const uinameSystem = [cond['@uiname'], ...vals.map((v) => v.uiname)].some(
    (u) => String(u ?? '').toUpperCase() === 'SYSTEM',
  );
  const excerpt = excerptOf(cond);
  const onOwner = OWNER_COLUMNS.has(attribute);
  const onSystemUser =
    entity === 'systemuser' &&
    ((attribute === 'fullname' && vals.some((v) => v.text.trim().toUpperCase() === 'SYSTEM')) ||
      (attribute === 'systemuserid' && isSystemId));
  if ((onOwner && isSystemId) || uinameSystem || onSystemUser) {
    return [{ kind: 'fetchxmlSystemFilter', severity: 'high', excerpt, fix: FIX_OWNER }];
  }
  if (onOwner && USER_OPERATORS.test(operator)) {
    return [{ kind: 'fetchxmlUserOperator', severity: 'medium', excerpt, fix: FIX_OPERATOR }];
  }
  if (onOwner && vals.some((v) => v.text.includes(LIQUID_VALUE))) {
    return [
      { kind: 'fetchxmlDynamicOwner', severity: 'low', excerpt, fix: 'dynamic owner value, review: ' + FIX_OWNER },
    ];
  }
  return [];
}

/** Walks entity / link-entity / filter, carrying the entity a condition applies to. */
function walk(node: Node, entity: string, systemId: string, hits: Hit[]) {
  for (const cond of children(node, 'condition')) hits.push(...conditionHits(cond, entity, systemId));
  for (const f of children(node, 'filter')) walk(f, entity, systemId, hits);
  for (const e of children(node, 'entity')) walk(e, String(e['@name'] ?? ''), systemId, hits);
  for (const l of children(node, 'link-entity')) walk(l, String(l['@name'] ?? ''), systemId, hits);
}

/** Scans one text (a template's source, a page's copy or script, a snippet's value) of `record`. */
export function scanLiquid(text: string, record: RecordRef, systemUserId: string): Finding[] {
  const systemId = normaliseGuid(systemUserId);
  const findings: Finding[] = [];
  for (const block of extractFetchXml(text)) {
    const xml = maskLiquid(block.xml).trim();
    const valid =
      block.complete && xml !== '' ? XMLValidator.validate(xml) : { err: { msg: 'unterminated fetchxml block' } };
    if (valid !== true) {
      findings.push({
        ...record,
        severity: 'medium',
        kind: 'malformedFetchXml',
        excerpt: `${valid.err.msg}: ${xml.slice(0, 120)}`,
        fix: 'fix the FetchXML so that it parses, then re-run the audit (it could not be checked for SYSTEM)',
      });
      continue;
    }
    const hits: Hit[] = [];
    for (const fetch of children(parser.parse(xml) as Node, 'fetch')) walk(fetch, '', systemId, hits);
    findings.push(...hits.map((h) => ({ ...record, ...h })));
  }
  return findings;
}
