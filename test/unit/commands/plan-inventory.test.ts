/** The credential lines under a keyvault plan (src/commands/plan.ts): what scan shows and prune acts on. */
import { describe, expect, it } from 'vitest';
import { inventoryText } from '../../../src/commands/plan.js';
import { credentialInventory } from '../../../src/machines/credential-inventory.js';
import { RUN_TAG } from '../../../src/machines/world-markers.js';

const NOW = Date.parse('2026-12-02T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const T = (t: string) => t.padEnd(40, '0');
const RUN = '20261202T010000Z-contoso-api-late01';

describe('plan inventory lines', () => {
  it('list an orphaned Key Vault version (created after its run ended) with prune, as an orphaned key', () => {
    const inventory = credentialInventory({
      now: NOW,
      credentials: [
        {
          keyId: 'kid-AA',
          thumbprint: T('AA'),
          startDateTime: iso(NOW - 300 * 86_400_000),
          endDateTime: iso(NOW + 400 * 86_400_000),
          usage: 'Verify',
          type: 'AsymmetricX509Cert',
          displayName: 'CN=contoso-s2s',
        },
      ],
      versions: [
        {
          version: 'v-late',
          thumbprint: T('bb'),
          secretId: 'https://kv/secrets/c/v-late',
          enabled: true,
          createdOn: iso(NOW - 3_600_000),
          notBefore: iso(NOW - 4_200_000),
          expiresOn: iso(NOW + 700 * 86_400_000),
          tags: { [RUN_TAG]: RUN },
        },
      ],
      inUseThumbprint: T('AA'),
      runs: [{ runId: RUN, finished: true, updatedAt: iso(NOW - 2 * 3_600_000) }],
      staleRunAfterMs: 86_400_000,
    });
    expect(inventory.orphanVersions).toHaveLength(1);
    expect(inventoryText('contoso-api', inventory)).toBe(
      `\n! orphaned Key Vault version v-late (key ${T('BB')}, run ${RUN}; ${inventory.orphanVersions[0]!.why}): ` +
        '`certrotate prune contoso-api` disables it',
    );
    expect(inventory.orphanVersions[0]!.why).toContain('created after its run ended');
  });

  it('say nothing when nothing is orphaned or in flight', () => {
    expect(inventoryText('contoso-api', { entries: [], orphans: [], orphanVersions: [] })).toBe('');
  });
});
