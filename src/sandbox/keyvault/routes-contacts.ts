/**
 * Vault-wide certificate settings an admin's tools read next to the certificates: the certificate contacts (who is
 * emailed about expiry and renewal) and the issuers list. Their static paths take precedence over
 * `/certificates/:name`, which would otherwise answer `contacts` and `issuers` as unknown certificates. Shapes: the
 * spec examples SetCertificateContacts, GetCertificateContacts, DeleteCertificateContacts and
 * GetCertificateIssuers (7.5); a vault without contacts answers 404 `ContactsNotFound` (the SDKs' live tests check
 * that code after a delete).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KeyVaultError } from './errors.js';
import { vaultUrlOf, type KeyVaultRouteConfig, type VaultContext } from './context.js';
import { pageOf } from './paging.js';
import { parseBody } from './routes-certificates.js';

/** One contact as the wire carries it. */
interface Contact {
  email?: string;
  name?: string;
  phone?: string;
}

const contactsBodySchema = z.looseObject({
  contacts: z.array(
    z.looseObject({ email: z.string().optional(), name: z.string().optional(), phone: z.string().optional() }),
  ),
});

function route(operation: string): { config: KeyVaultRouteConfig } {
  return { config: { operation } };
}

function contactsNotFound(): KeyVaultError {
  return new KeyVaultError(404, 'ContactsNotFound', 'Contacts not found');
}

export function registerContactRoutes(app: FastifyInstance, ctx: VaultContext): void {
  let contacts: Contact[] | undefined;
  const body = (base: string, list: Contact[]) => ({
    id: `${base}/certificates/contacts`,
    contacts: list.map((c) => ({ ...c })),
  });

  app.put('/certificates/contacts', route('certificates/managecontacts'), async (request) => {
    const parsed = parseBody(contactsBodySchema, request.body);
    // Only the three documented fields are kept, so what GET answers is what the spec describes.
    contacts = parsed.contacts.map(({ email, name, phone }) => ({
      ...(email !== undefined ? { email } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(phone !== undefined ? { phone } : {}),
    }));
    return body(vaultUrlOf(ctx, request), contacts);
  });

  app.get('/certificates/contacts', route('certificates/managecontacts'), async (request) => {
    if (!contacts) throw contactsNotFound();
    return body(vaultUrlOf(ctx, request), contacts);
  });

  app.delete('/certificates/contacts', route('certificates/managecontacts'), async (request) => {
    if (!contacts) throw contactsNotFound();
    const deleted = contacts;
    contacts = undefined;
    return body(vaultUrlOf(ctx, request), deleted);
  });

  // The sandbox issues self-signed certificates only; `Self` and `Unknown` are reserved names, not issuer objects,
  // so the vault has no issuers to list.
  app.get('/certificates/issuers', route('certificates/listissuers'), async (request) => {
    return pageOf(request, `${vaultUrlOf(ctx, request)}/certificates/issuers`, []);
  });
}
