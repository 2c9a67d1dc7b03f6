/* global fetch, URLSearchParams */
// Sandbox throughput: requests per second the local Azure sandbox serves at zero latency, over HTTPS with
// keep-alive, across the calls a rotation makes (token endpoint, Graph read, Key Vault read, Dataverse WhoAmI).
// Run after `npm run build`: npx node bench/sandbox.js [--seconds 5] [--concurrency 32]. Goal: >= 500 requests/s.
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { ClientCertificateCredential } from '@azure/identity';
import { startSandbox } from '../dist/sandbox/index.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '32' } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const GOAL = 500;

if (typeof tls.setDefaultCACertificates !== 'function') {
  // Needed to trust the CA the sandbox generates at start; run through npm (node_modules/.bin/node is Node 24).
  console.error(
    `bench/sandbox.js needs Node >= 22.19 or 24.5 (tls.setDefaultCACertificates); this is ${process.version}`,
  );
  process.exit(1);
}
const sb = await startSandbox({ propagationDelaySeconds: 0, latencyMs: 0 });
try {
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), sb.caPem]);
  const tokenUrl = `${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/token`;
  const secretForm = (scope) =>
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sb.operator.clientId,
      client_secret: sb.operator.clientSecret,
      scope,
    }).toString();
  const tokenFor = async (scope) => {
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: secretForm(scope),
    });
    return (await res.json()).access_token;
  };
  const graphToken = await tokenFor('https://graph.microsoft.com/.default');
  const vaultToken = await tokenFor('https://vault.azure.net/.default');
  const contoso = sb.targets.find((t) => t.name === 'contoso-api');
  const server = sb.servers.find((s) => s.name === 'contoso-api');
  const dataverseToken = (
    await new ClientCertificateCredential(
      sb.tenantId,
      contoso.appId,
      { certificate: server.current().pemBundle },
      { authorityHost: sb.urls.entra, disableInstanceDiscovery: true },
    ).getToken(`${sb.urls.dataverse}/.default`)
  ).token;

  const calls = [
    {
      name: 'entra token (client secret)',
      run: () =>
        fetch(tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: secretForm('https://graph.microsoft.com/.default'),
        }),
    },
    {
      name: 'graph GET application $select',
      run: () =>
        fetch(`${sb.urls.graph}/v1.0/applications/${contoso.objectId}?$select=id,keyCredentials`, {
          headers: { authorization: `Bearer ${graphToken}` },
        }),
    },
    {
      name: 'key vault GET certificate',
      run: () =>
        fetch(`${contoso.vaultUrl}/certificates/${contoso.certificate}/?api-version=7.6`, {
          headers: { authorization: `Bearer ${vaultToken}` },
        }),
    },
    {
      name: 'dataverse WhoAmI',
      run: () =>
        fetch(`${sb.urls.dataverse}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${dataverseToken}` } }),
    },
  ];

  const counts = calls.map(() => ({ ok: 0, failed: 0 }));
  let next = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  async function worker() {
    while (Date.now() < deadline) {
      const i = next++ % calls.length;
      const res = await calls[i].run();
      await res.arrayBuffer();
      if (res.ok) counts[i].ok++;
      else counts[i].failed++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (Date.now() - started) / 1000;
  const total = counts.reduce((n, c) => n + c.ok, 0);
  const failed = counts.reduce((n, c) => n + c.failed, 0);
  const rate = total / elapsed;
  for (const [i, c] of calls.entries()) {
    console.log(
      `  ${c.name.padEnd(32)} ${(counts[i].ok / elapsed).toFixed(0).padStart(6)} /s${counts[i].failed ? `  (${counts[i].failed} failed)` : ''}`,
    );
  }
  console.log(
    `sandbox throughput: ${rate.toFixed(0)} requests/s at zero latency (concurrency ${concurrency}, ${elapsed.toFixed(1)} s, ${failed} failed; goal >= ${GOAL}/s: ${rate >= GOAL ? 'met' : 'NOT met'})`,
  );
  if (failed > 0) process.exitCode = 1;
} finally {
  await sb.stop();
}
