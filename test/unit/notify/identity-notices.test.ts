/**
 * `identity --notify`'s message: verdict, counts by severity, the most severe findings first with their fixes, the
 * rest as "and N more"; nothing for a target without findings; only channels subscribed to `identityFindings` hear it.
 */
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/identity/finding.js';
import type { NotifyChannelConfig } from '../../../src/notify/config.js';
import { identityNotification, notifyIdentityFindings } from '../../../src/notify/identity-notices.js';

const finding = (severity: Finding['severity'], i: number): Finding => ({
  severity,
  kind: severity === 'high' ? 'fetchxmlSystemFilter' : 'workflowOwnedBySystem',
  table: severity === 'high' ? 'adx_webtemplates' : 'workflows',
  recordId: `rec-${i}`,
  name: `record ${i}`,
  excerpt: `excerpt ${i}`,
  fix: `fix ${i}`,
});

const row = (findings: Finding[]) => ({
  name: 'contoso-portal',
  verdict: 'findings',
  identity: { kind: 'applicationUser', name: 'contoso portal app' },
  findings,
});

describe('identityNotification', () => {
  it('lists the verdict, the counts and the most severe findings with their fixes, the rest as "and N more"', () => {
    const findings = [
      ...[1, 2, 3, 4, 5].map((i) => finding('low', i)),
      finding('medium', 6),
      finding('high', 7),
      finding('high', 8),
    ];
    const n = identityNotification(row(findings), 1000, 4)!;
    expect(n.event).toBe('identityFindings');
    expect(n.target).toBe('contoso-portal');
    expect(n.title).toBe('Identity audit of contoso-portal: findings, 8 findings');
    expect(n.next).toBe('certrotate identity contoso-portal');
    // With the --config of the audit, as printed commands carry it.
    expect(identityNotification(row(findings), 1000, 4, 'ops/prod.yaml')!.next).toBe(
      'certrotate identity contoso-portal --config ops/prod.yaml',
    );
    expect(n.facts.slice(0, 3)).toEqual([
      { title: 'Verdict', value: 'findings' },
      { title: 'Identity', value: 'applicationUser contoso portal app' },
      { title: 'Findings', value: 'high 2, medium 1, low 5' },
    ]);
    expect(n.facts.slice(3)).toEqual([
      {
        title: 'Finding 1',
        value: 'high fetchxmlSystemFilter in adx_webtemplates record 7 (rec-7): excerpt 7 — fix: fix 7',
      },
      {
        title: 'Finding 2',
        value: 'high fetchxmlSystemFilter in adx_webtemplates record 8 (rec-8): excerpt 8 — fix: fix 8',
      },
      {
        title: 'Finding 3',
        value: 'medium workflowOwnedBySystem in workflows record 6 (rec-6): excerpt 6 — fix: fix 6',
      },
      { title: 'More', value: 'and 5 more' },
    ]);
  });

  it('lists every finding when they fit, and says nothing of a target without findings', () => {
    const n = identityNotification(row([finding('high', 1)]), 0)!;
    expect(n.title).toBe('Identity audit of contoso-portal: findings, 1 finding');
    expect(n.facts.map((f) => f.title)).toEqual(['Verdict', 'Identity', 'Findings', 'Finding 1']);
    expect(identityNotification(row([]), 0)).toBeUndefined();
  });
});

describe('notifyIdentityFindings', () => {
  it('sends to the channels subscribed to identityFindings for the target, and reports each delivery', async () => {
    const channels: NotifyChannelConfig[] = [
      { name: 'sec', kind: 'slack', urlEnv: 'SEC_URL', events: ['identityFindings'] },
      { name: 'ops', kind: 'slack', urlEnv: 'OPS_URL', events: ['failed'] },
      { name: 'other', kind: 'slack', urlEnv: 'SEC_URL', events: ['identityFindings'], targets: ['api-*'] },
    ];
    const bodies: string[] = [];
    const fetch = (async (_u: string, init: RequestInit) => {
      bodies.push(String(init.body));
      return new Response('ok', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const results = await notifyIdentityFindings(
      channels,
      [row([finding('high', 1)]), { ...row([]), name: 'clean-portal' }],
      { env: { SEC_URL: 'https://hooks.slack.example/services/T/B/x' }, fetch },
    );
    expect(results).toEqual([{ target: 'contoso-portal', channel: 'sec', event: 'identityFindings', status: 'sent' }]);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toContain('fix 1');
  });
});
