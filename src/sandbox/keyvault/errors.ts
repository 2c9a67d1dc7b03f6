/**
 * Key Vault's error responses: `{"error":{"code","message","innererror"?:{"code"}}}` with the status the real service
 * uses, so the SDK's `RestError` carries `statusCode`, `code` and `details.error.innerError.code` as it does in Azure
 * (reference/keyvault.md §3.7).
 */

/** A failure that the routes turn into Key Vault's error body; anything else thrown becomes a 500 of the same shape. */
export class KeyVaultError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    /** Extra response headers, e.g. `Retry-After` on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'KeyVaultError';
  }

  /** The wire body. */
  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode ? { innererror: { code: this.innerCode } } : {}),
      },
    };
  }
}

/** 400 `BadParameter`: a malformed or unsupported request field. */
export function badParameter(message: string): KeyVaultError {
  return new KeyVaultError(400, 'BadParameter', message);
}

/** 404 `CertificateNotFound` for an unknown certificate or version. */
export function certificateNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, 'CertificateNotFound', `Certificate not found: ${name}`);
}

/** 404 `PendingCertificateNotFound` when a certificate has no pending operation. */
export function pendingNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, 'PendingCertificateNotFound', `Pending certificate not found: ${name}`);
}

/** 404 `SecretNotFound` for an unknown secret or version. */
export function secretNotFound(name: string, version?: string): KeyVaultError {
  const what = version ? `${name}/${version}` : name;
  return new KeyVaultError(404, 'SecretNotFound', `A secret with (name/id) ${what} was not found in this key vault.`);
}

/** 403 with inner `SecretDisabled`, exactly as recorded from the real service for a disabled version. */
export function secretDisabled(): KeyVaultError {
  return new KeyVaultError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
}

/** 409 when a create or import arrives while a previous create of the same name is still running (the code is `Forbidden` in Azure, sic). */
export function pendingInProgress(name: string): KeyVaultError {
  return new KeyVaultError(
    409,
    'Forbidden',
    `Certificate ${name} can not be created or imported while a pending certificate operation with status is inProgress.`,
  );
}

/**
 * 409 `Conflict` / `ObjectIsDeletedButRecoverable`: a create, import or set on a name held by a soft-deleted object.
 * Body as the service answers it (reference/keyvault.md §3.7; a recorded body in rcl-letsencrypt-auto-ssl/Lets-Encrypt-Auto#16).
 */
export function deletedButRecoverable(kind: 'certificate' | 'secret', name: string): KeyVaultError {
  const label = kind === 'certificate' ? 'Certificate' : 'Secret';
  return new KeyVaultError(
    409,
    'Conflict',
    `${label} ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the ${kind} can only be recovered or purged.`,
    'ObjectIsDeletedButRecoverable',
  );
}

/** 404 `CertificateNotFound` for a name with no deleted certificate, as recorded from the service. */
export function deletedCertificateNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, 'CertificateNotFound', `Deleted Certificate not found: ${name}`);
}

/** 404 `SecretNotFound` for a name with no deleted secret. */
export function deletedSecretNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
}

/** 403 `Forbidden` for a purge in a vault with purge protection, in the service's words. */
export function purgeProtected(vault: string): KeyVaultError {
  return new KeyVaultError(
    403,
    'Forbidden',
    `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: ${vault};location=sandbox`,
  );
}
