/**
 * The seeded identity world of the sandbox Dataverse (issue 13): SYSTEM and INTEGRATION, one application user per
 * app that has one, the Power Pages roles per business unit, and the planted dependencies on SYSTEM:
 * - `contoso-portal` runs as SYSTEM: two web templates filter on SYSTEM (standard `adx_webtemplate` and enhanced
 *   `powerpagecomponent`), one content snippet uses `eq-userid`, one real-time and one background workflow are
 *   owned by SYSTEM (and a SYSTEM-owned activation row, type 2, which an audit must not count);
 * - a migrated site `fabrikam-portal` (Dataverse only) whose application user gained System Administrator;
 * - `northwind-portal` is clean: the documented roles and profile, Liquid with no owner filter;
 * - the business unit's default team, of which every application user is a member, holding no role (as Dataverse has);
 * - with `teamSites`, two more migrated sites whose roles come partly through teams: `litware-portal` holds Portal
 *   Application User only through the team "Litware Portal Apps" (a child business unit's copy; ok), `adatum-portal`
 *   holds the documented set and System Administrator through the team "Dataverse Administrators" (overPrivileged).
 */
import { randomUUID } from 'node:crypto';
import type { DataverseOrg } from '../dataverse.js';
import { insertRow, link, TABLES, type Row } from './tables.js';

/** The System Administrator column-security profile's fixed id (reference §0.4). */
export const SYSTEM_ADMINISTRATOR_PROFILE_ID = '572329c1-a042-4e22-be47-367c6374ea45';

/** A power-pages site as the identity world needs it. */
export interface IdentitySite {
  siteName: string;
  appId: string;
  /** The site's Dataverse record id (`adx_website` / `powerpagesite`). */
  websiteRecordId: string;
}

/** Options of the identity world. */
export interface IdentityWorldOptions {
  /** Extra clean `adx_webpages` rows (of northwind-portal) so that a read crosses pages. Default 0. */
  pagingRecords?: number;
  /** An entity set no caller may read (403 `0x80040220`). */
  denyTable?: string;
  /** Give the operator an application user (System Administrator), so that it can read the tables. Default false. */
  operatorReads?: boolean;
  /** Also seed `litware-portal` and `adatum-portal`, whose roles come partly through teams. Default false. */
  teamSites?: boolean;
}

/** A migrated site whose application user holds one role through a team. */
export interface TeamSite extends IdentitySite {
  teamId: string;
  teamName: string;
  /** The role the team gives. */
  role: string;
}

/** What the world seeded: ids the tests and the admin API refer to. */
export interface IdentityWorld {
  systemUserId: string;
  integrationUserId: string;
  migratedSite: IdentitySite;
  /** The business unit's default team (every application user a member, no role). */
  defaultTeamId: string;
  /** With `teamSites`: Portal Application User through a team (ok), System Administrator through a team. */
  teamSites?: { portalRoleViaTeam: TeamSite; adminViaTeam: TeamSite };
}

const SYSTEM_SITE = 'contoso-portal';
const CLEAN_FETCH = (entity: string) =>
  `{% fetchxml items %}<fetch top="10"><entity name="${entity}"><attribute name="name" />` +
  `<filter><condition attribute="statecode" operator="eq" value="0" /></filter></entity></fetch>{% endfetchxml %}` +
  `{% for item in items.results.entities %}<li>{{ item.name }}</li>{% endfor %}`;

/** Seeds the identity tables of `org`; `sites` are the seeded power-pages sites. */
export function seedIdentityWorld(
  org: DataverseOrg,
  sites: IdentitySite[],
  options: IdentityWorldOptions = {},
): IdentityWorld {
  const t = org.tables;
  const bu = org.businessUnitId;
  const childBu = randomUUID();
  const user = (row: Row) =>
    insertRow(t, 'systemusers', {
      accessmode: 0,
      isdisabled: false,
      issyncwithdirectory: false,
      azurestate: 0,
      systemmanagedusertype: 0,
      _businessunitid_value: bu,
      ...row,
    });
  const systemUserId = randomUUID();
  const integrationUserId = randomUUID();
  user({ systemuserid: systemUserId, fullname: 'SYSTEM', domainname: '', accessmode: 4 });
  user({ systemuserid: integrationUserId, fullname: 'INTEGRATION', domainname: '', accessmode: 4 });

  // Roles exist once per business unit; the copies point at the root role (match by name or parent root role).
  const roleNames = [
    'System Administrator',
    'Basic User',
    'Portal Application User',
    'Service Deleter',
    'Service Writer',
  ];
  const roles = new Map<string, string>();
  const childRoles = new Map<string, string>();
  for (const name of roleNames) {
    const root = randomUUID();
    roles.set(name, root);
    childRoles.set(name, randomUUID());
    insertRow(t, 'roles', {
      roleid: root,
      name,
      _businessunitid_value: bu,
      _parentrootroleid_value: root,
      _roletemplateid_value: randomUUID(),
    });
    insertRow(t, 'roles', {
      roleid: childRoles.get(name)!,
      name,
      _businessunitid_value: childBu,
      _parentrootroleid_value: root,
    });
  }
  insertRow(t, 'fieldsecurityprofiles', {
    fieldsecurityprofileid: SYSTEM_ADMINISTRATOR_PROFILE_ID,
    name: 'System Administrator',
    description: 'Full access to all secured columns.',
  });
  insertRow(t, 'fieldsecurityprofiles', {
    fieldsecurityprofileid: randomUUID(),
    name: 'Sales Manager',
    description: '',
  });

  const migratedSite: IdentitySite = {
    siteName: 'fabrikam-portal',
    appId: randomUUID(),
    websiteRecordId: randomUUID(),
  };
  org.applicationUsers.set(migratedSite.appId, randomUUID());
  org.appNames.set(migratedSite.appId, `Portals - ${migratedSite.siteName}`);
  const teamSite = (siteName: string, teamName: string, role: string): TeamSite => {
    const site = { siteName, appId: randomUUID(), websiteRecordId: randomUUID(), teamId: randomUUID(), teamName, role };
    org.applicationUsers.set(site.appId, randomUUID());
    org.appNames.set(site.appId, `Portals - ${siteName}`);
    return site;
  };
  const teamSites = options.teamSites
    ? {
        portalRoleViaTeam: teamSite('litware-portal', 'Litware Portal Apps', 'Portal Application User'),
        adminViaTeam: teamSite('adatum-portal', 'Dataverse Administrators', 'System Administrator'),
      }
    : undefined;
  const viaTeam = new Map(Object.values(teamSites ?? {}).map((s) => [s.appId, s]));
  const siteByApp = new Map(
    [...sites, migratedSite, ...viaTeam.values()].map((s) => [s.appId.toLowerCase(), s as IdentitySite]),
  );
  const systemSite = sites.find((s) => s.siteName === SYSTEM_SITE);
  // A site on SYSTEM has no application user: its app maps to none in this environment.
  if (systemSite) org.applicationUsers.delete(systemSite.appId.toLowerCase());

  const defaultTeamId = randomUUID();
  insertRow(t, 'teams', {
    teamid: defaultTeamId,
    name: 'contoso-prod',
    teamtype: 0,
    isdefault: true,
    _businessunitid_value: bu,
  });
  for (const [appId, userId] of org.applicationUsers) {
    const site = siteByApp.get(appId);
    user({
      systemuserid: userId,
      fullname: site ? `# Portals-${site.siteName}` : `# ${org.appNames.get(appId) ?? appId}`,
      domainname: `${appId}@contoso.onmicrosoft.com`,
      applicationid: appId,
      applicationiduri: null,
      azureactivedirectoryobjectid: randomUUID(),
      accessmode: 4,
    });
    // Every user of a business unit is a member of its default team.
    link(t, 'teammembership', userId, defaultTeamId);
    if (site) {
      const team = viaTeam.get(appId);
      for (const r of ['Portal Application User', 'Service Deleter', 'Service Writer']) {
        if (team?.role !== r) link(t, 'systemuserroles', userId, roles.get(r)!);
      }
      if (team) {
        // A team of the child business unit holds its copy of the role: it counts by its root role's name.
        insertRow(t, 'teams', {
          teamid: team.teamId,
          name: team.teamName,
          teamtype: 0,
          isdefault: false,
          _businessunitid_value: childBu,
        });
        link(t, 'teammembership', userId, team.teamId);
        link(t, 'teamroles', team.teamId, childRoles.get(team.role)!);
      }
      link(t, 'systemuserprofiles', userId, SYSTEM_ADMINISTRATOR_PROFILE_ID);
      if (site === migratedSite) link(t, 'systemuserroles', userId, roles.get('System Administrator')!);
    } else {
      // Other apps (the operator, keyvault targets) are ordinary integrations with System Administrator.
      link(t, 'systemuserroles', userId, roles.get('System Administrator')!);
    }
  }

  const workflow = (row: Row) =>
    insertRow(t, 'workflows', {
      workflowid: randomUUID(),
      type: 1,
      statecode: 1,
      statuscode: 2,
      scope: 1,
      runas: 0,
      ismanaged: false,
      _ownerid_value: systemUserId,
      _owninguser_value: systemUserId,
      ...row,
    });
  const rtId = randomUUID();
  workflow({
    workflowid: rtId,
    name: 'Case: stamp portal contact',
    uniquename: 'new_casestampportalcontact',
    category: 0,
    mode: 1,
    primaryentity: 'incident',
  });
  workflow({
    name: 'Contact: weekly digest',
    uniquename: 'new_contactweeklydigest',
    category: 0,
    mode: 0,
    statecode: 0,
    statuscode: 1,
    primaryentity: 'contact',
  });
  // The activation row of the real-time workflow: owned by SYSTEM too, but `type eq 1` leaves it out.
  workflow({
    name: 'Case: stamp portal contact',
    uniquename: null,
    category: 0,
    mode: 1,
    type: 2,
    primaryentity: 'incident',
  });
  const otherOwner = [...org.applicationUsers.values()].find(
    (id) => !sites.some((s) => org.applicationUsers.get(s.appId.toLowerCase()) === id),
  );
  workflow({
    name: 'Account: assign territory',
    uniquename: 'new_accountassignterritory',
    category: 0,
    mode: 1,
    primaryentity: 'account',
    _ownerid_value: otherOwner ?? integrationUserId,
    _owninguser_value: otherOwner ?? integrationUserId,
  });

  const upper = `{${systemUserId.toUpperCase()}}`;
  for (const site of [...sites, migratedSite]) {
    const w = site.websiteRecordId;
    const onSystem = site.siteName === SYSTEM_SITE;
    insertRow(t, 'adx_webtemplates', {
      adx_webtemplateid: randomUUID(),
      adx_name: 'Header',
      adx_source: CLEAN_FETCH('account'),
      _adx_websiteid_value: w,
    });
    insertRow(t, 'adx_webpages', {
      adx_webpageid: randomUUID(),
      adx_name: 'Home',
      adx_copy: '<p>Welcome</p>',
      adx_customjavascript: '',
      adx_customcss: '',
      _adx_websiteid_value: w,
    });
    insertRow(t, 'adx_entitylists', {
      adx_entitylistid: randomUUID(),
      adx_name: 'Cases',
      adx_filter_definition: null,
      adx_views: '[]',
      adx_registerstartupscript: '',
      _adx_websiteid_value: w,
    });
    insertRow(t, 'adx_contentsnippets', {
      adx_contentsnippetid: randomUUID(),
      adx_name: 'Footer',
      adx_value: '<p>© {{ now | date: "yyyy" }}</p>',
      _adx_websiteid_value: w,
    });
    insertRow(t, 'powerpagecomponents', {
      powerpagecomponentid: randomUUID(),
      name: 'Layout',
      powerpagecomponenttype: 8,
      content: JSON.stringify({ source: CLEAN_FETCH('contact') }),
      statecode: 0,
      _powerpagesiteid_value: w,
    });
    if (!onSystem) continue;
    insertRow(t, 'adx_webtemplates', {
      adx_webtemplateid: randomUUID(),
      adx_name: 'My Cases',
      adx_source:
        `{% fetchxml cases %}<fetch><entity name="incident"><attribute name="title" /><filter type="and">` +
        `<condition attribute="ownerid" operator="eq" value="${upper}" />` +
        `<condition attribute="customerid" operator="eq" value="{{ user.id }}" /></filter></entity></fetch>{% endfetchxml %}`,
      _adx_websiteid_value: w,
    });
    insertRow(t, 'powerpagecomponents', {
      powerpagecomponentid: randomUUID(),
      name: 'Open Orders',
      powerpagecomponenttype: 8,
      content: JSON.stringify({
        source:
          `{% fetchxml orders %}<fetch><entity name="salesorder"><filter><condition attribute="owninguser" operator="eq" ` +
          `uiname="SYSTEM" uitype="systemuser" value="${systemUserId}"></condition></filter></entity></fetch>{% endfetchxml %}`,
      }),
      statecode: 0,
      _powerpagesiteid_value: w,
    });
    insertRow(t, 'adx_contentsnippets', {
      adx_contentsnippetid: randomUUID(),
      adx_name: 'My Open Tasks',
      adx_value:
        `{% fetchxml tasks %}<fetch><entity name="task"><filter><condition attribute="ownerid" operator="eq-userid" />` +
        `</filter></entity></fetch>{% endfetchxml %}{{ tasks.results.entities.size }}`,
      _adx_websiteid_value: w,
    });
  }
  const northwind = sites.find((s) => s.siteName === 'northwind-portal');
  for (let i = 0; i < (options.pagingRecords ?? 0); i++) {
    insertRow(t, 'adx_webpages', {
      adx_webpageid: randomUUID(),
      adx_name: `Article ${i + 1}`,
      adx_copy: `<p>Article ${i + 1}</p>`,
      _adx_websiteid_value: northwind?.websiteRecordId ?? migratedSite.websiteRecordId,
    });
  }
  if (options.denyTable) {
    if (!TABLES[options.denyTable]) {
      throw new Error(
        `denyTable: '${options.denyTable}' is not a sandbox Dataverse table (${Object.keys(TABLES).join(', ')})`,
      );
    }
    t.denied.add(options.denyTable);
  }
  return { systemUserId, integrationUserId, migratedSite, defaultTeamId, ...(teamSites ? { teamSites } : {}) };
}
