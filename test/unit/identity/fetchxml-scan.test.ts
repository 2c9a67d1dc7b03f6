import { describe, expect, it } from 'vitest';
import { maskLiquid, scanLiquid } from '../../../src/identity/fetchxml-scan.js';

const SYSTEM = '5f3a1c2e-9b7d-4e61-a0c4-2d8e6b9f1a37';
const rec = { table: 'adx_webtemplates', recordId: 'r1', name: 'T' };
const kinds = (text: string) => scanLiquid(text, rec, SYSTEM).map((f) => f.kind);
const block = (fetch: string) =>
  `<ul>{% fetchxml q %}${fetch}{% endfetchxml %}{% for x in q.results.entities %}{{ x.name }}{% endfor %}</ul>`;
const fetchOn = (condition: string) => `<fetch><entity name="incident"><filter>${condition}</filter></entity></fetch>`;

describe('scanLiquid: the corpus', () => {
  const flagged: Array<[string, string, string]> = [
    [
      'ownerid, braces upper case',
      fetchOn(`<condition attribute="ownerid" operator="eq" value="{${SYSTEM.toUpperCase()}}" />`),
      'fetchxmlSystemFilter',
    ],
    [
      'owninguser, bare lower case, explicit close',
      fetchOn(`<condition attribute="owninguser" operator="eq" value="${SYSTEM}"></condition>`),
      'fetchxmlSystemFilter',
    ],
    [
      'createdby with a child value',
      fetchOn(`<condition attribute="createdby" operator="in"><value>{${SYSTEM}}</value></condition>`),
      'fetchxmlSystemFilter',
    ],
    [
      'modifiedby, mixed case',
      fetchOn(
        `<condition attribute="modifiedby" operator="eq" value="${SYSTEM.replace(/[a-f]/, (c) => c.toUpperCase())}" />`,
      ),
      'fetchxmlSystemFilter',
    ],
    [
      'uiname on the condition',
      fetchOn(
        `<condition attribute="ownerid" operator="eq" uiname="SYSTEM" uitype="systemuser" value="{00000000-0000-0000-0000-000000000001}" />`,
      ),
      'fetchxmlSystemFilter',
    ],
    [
      'uiname on a value',
      fetchOn(
        `<condition attribute="ownerid" operator="in"><value uiname="SYSTEM" uitype="systemuser">{${SYSTEM}}</value></condition>`,
      ),
      'fetchxmlSystemFilter',
    ],
    [
      'link-entity systemuser by fullname',
      `<fetch><entity name="incident"><link-entity name="systemuser" from="systemuserid" to="ownerid"><filter><condition attribute="fullname" operator="eq" value="SYSTEM" /></filter></link-entity></entity></fetch>`,
      'fetchxmlSystemFilter',
    ],
    ['eq-userid on ownerid', fetchOn(`<condition attribute="ownerid" operator="eq-userid" />`), 'fetchxmlUserOperator'],
    [
      'ne-userid on createdby',
      fetchOn(`<condition attribute="createdby" operator="ne-userid" />`),
      'fetchxmlUserOperator',
    ],
    [
      'eq-useroruserhierarchy',
      fetchOn(`<condition attribute="ownerid" operator="eq-useroruserhierarchy" />`),
      'fetchxmlUserOperator',
    ],
    [
      'a Liquid owner value',
      fetchOn(`<condition attribute="ownerid" operator="eq" value="{{ settings.owner }}" />`),
      'fetchxmlDynamicOwner',
    ],
  ];
  it.each(flagged)('flags %s', (_label, fetch, kind) => {
    expect(kinds(block(fetch))).toEqual([kind]);
  });

  const clean: Array<[string, string]> = [
    ['a status filter', fetchOn(`<condition attribute="statecode" operator="eq" value="0" />`)],
    ['the contact of the visitor', fetchOn(`<condition attribute="customerid" operator="eq" value="{{ user.id }}" />`)],
    [
      'another user id on ownerid',
      fetchOn(`<condition attribute="ownerid" operator="eq" value="{11111111-2222-3333-4444-555555555555}" />`),
    ],
    [
      'SYSTEM id on a non-owner column',
      fetchOn(`<condition attribute="regardingobjectid" operator="eq" value="${SYSTEM}" />`),
    ],
    [
      'a comment that mentions SYSTEM',
      `<fetch><!-- uiname="SYSTEM" ownerid ${SYSTEM} --><entity name="account"><attribute name="name" /></entity></fetch>`,
    ],
    [
      'Liquid tags between conditions',
      fetchOn(`{% if user %}<condition attribute="statecode" operator="eq" value="{{ page.state }}" />{% endif %}`),
    ],
  ];
  it.each(clean)('does not flag %s', (_label, fetch) => {
    expect(kinds(block(fetch))).toEqual([]);
  });

  it('finds raw <fetch> in custom JavaScript and several blocks in one template', () => {
    const js = `var x = '<fetch><entity name="task"><filter><condition attribute="ownerid" operator="eq-userid"/></filter></entity></fetch>';`;
    expect(kinds(js)).toEqual(['fetchxmlUserOperator']);
    const two =
      block(fetchOn(`<condition attribute="ownerid" operator="eq-userid" />`)) +
      block(fetchOn(`<condition attribute="ownerid" operator="eq" value="${SYSTEM}" />`));
    expect(kinds(two)).toEqual(['fetchxmlUserOperator', 'fetchxmlSystemFilter']);
  });

  it('reports a malformed or unterminated template as a finding with the record, not a crash', () => {
    const [bad] = scanLiquid(block(`<fetch><entity name="x"><filter></entity></fetch>`), rec, SYSTEM);
    expect(bad).toMatchObject({
      kind: 'malformedFetchXml',
      severity: 'medium',
      table: 'adx_webtemplates',
      recordId: 'r1',
      name: 'T',
    });
    expect(kinds(`{% fetchxml q %}<fetch><entity name="x">`)).toEqual(['malformedFetchXml']);
  });

  it('gives each finding its record, an excerpt and the fix', () => {
    const [f] = scanLiquid(
      block(fetchOn(`<condition attribute="ownerid" operator="eq" value="{${SYSTEM}}" />`)),
      rec,
      `{${SYSTEM.toUpperCase()}}`,
    );
    expect(f).toEqual({
      ...rec,
      kind: 'fetchxmlSystemFilter',
      severity: 'high',
      excerpt: `<condition attribute="ownerid" operator="eq" value="{${SYSTEM}}">`,
      fix: expect.stringContaining('table permissions and web roles'),
    });
  });

  it('masks Liquid output and tags', () => {
    expect(maskLiquid('<a b="{{ x | y }}">{% if z %}c{% endif %}</a>')).toBe('<a b="LIQUIDEXPR">c</a>');
  });
});
