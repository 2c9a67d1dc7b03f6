/**
 * What the Power Pages end-to-end tests share: the seeded site, the admin center's Update key, and I1 for a site over
 * the sandbox's `/history` (the key the site uses is always a valid credential of its app).
 */
import { admin, getState, sandboxTarget, type HistoryEvent, type Sandbox } from '../helpers/sandbox.js';

/** The seeded site of `target` (websiteId, environmentId, appId). */
export function portal(sb: Sandbox, target = 'contoso-portal') {
  const t = sandboxTarget(sb, target);
  if (!t.websiteId || !t.environmentId) throw new Error(`${target} is not a power-pages target`);
  return { appId: t.appId, websiteId: t.websiteId, environmentId: t.environmentId };
}

/** Presses Update key in the "admin center": the platform attaches a new key and the site restarts onto it. */
export function pressUpdateKey(sb: Sandbox, websiteId: string) {
  return admin<{ thumbprint: string; keyId: string }>(sb, 'POST', `/sites/${websiteId}/update-key`);
}

/** The site's app and the site itself as `/state` shows them now. */
export async function siteState(sb: Sandbox, target = 'contoso-portal') {
  const { appId, websiteId } = portal(sb, target);
  const state = await getState(sb);
  return {
    app: state.apps.find((a) => a.appId === appId)!,
    site: state.sites.find((s) => s.websiteId === websiteId)!,
  };
}

/** Waits (real time: the sandbox restarts the site on a timer) until the site runs again. */
export async function siteRunning(sb: Sandbox, target = 'contoso-portal', timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await siteState(sb, target)).site.status === 'running') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`site ${target} still restarting after ${timeoutMs} ms`);
}

/**
 * I1 for a site: after every change to the app's keys or to the site's key, the key the site uses is a credential of
 * the app valid at that instant. Returns the violations (empty: held).
 */
export function checkSiteI1(history: HistoryEvent[], ref: { appId: string; websiteId: string }): string[] {
  const problems: string[] = [];
  let keys: Extract<HistoryEvent, { kind: 'appKeys' }>['keys'] | undefined;
  let site: string | undefined;
  for (const e of history) {
    if (e.kind === 'appKeys' && e.appId === ref.appId) keys = e.keys;
    else if (e.kind === 'siteKey' && e.websiteId === ref.websiteId) site = e.thumbprint;
    else continue;
    if (!keys || site === undefined) continue;
    const at = Date.parse(e.time);
    if (!keys.some((k) => k.thumbprint === site && Date.parse(k.start) <= at && at < Date.parse(k.end))) {
      problems.push(`I1 at ${e.time}: the site's key ${site} is not a valid credential of app ${ref.appId}`);
    }
  }
  if (site === undefined) problems.push(`I1: history has no key for site ${ref.websiteId}`);
  return problems;
}
