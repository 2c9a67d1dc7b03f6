/**
 * Removes key material from anything about to leave the process (logs, JSON output, journal details), as a second
 * line of defence behind I4: code should never hand a key to a logger, but if it does, the key still does not leak.
 */

const PEM_PRIVATE = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g;
/** A JWT: header and payload are base64url JSON objects (`eyJ…`). Access tokens and client assertions both match. */
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
/** Long base64 runs: a PKCS#12 blob or a DER key. Certificates are public, but a blob this long is not worth the risk. */
const LONG_BASE64 = /[A-Za-z0-9+/]{400,}={0,2}/g;

/** A signed URL's credential (`sig=` of a Teams Workflows / Logic Apps trigger URL). */
const URL_SIG = /([?&]sig=)[^&\s"']+/gi;
/** A Slack incoming-webhook URL: its path is the credential. */
const SLACK_HOOK = /(https:\/\/hooks\.slack\.com\/)[^\s"']+/gi;
/** A Standard Webhooks signing secret. */
const WHSEC = /\bwhsec_[A-Za-z0-9+/=]+/g;

/**
 * Values known to be secret at run time (notification URLs and signing secrets read from the environment): replaced
 * wherever they appear, whatever their shape.
 */
const knownSecrets = new Set<string>();

/** Registers a secret value (at least 8 characters) so every later scrub replaces it. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

/** Field names whose values are never logged, whatever they hold. */
export const SECRET_KEYS =
  /^(privatekey|private_key|privatekeypem|pem|pfx|pkcs12|secret|clientsecret|client_secret|password|authorization|access_token|accesstoken|token|client_assertion|assertion)$/i;

/** Replaces private keys, tokens and long base64 blobs in a string. */
export function scrubString(text: string): string {
  let out = text;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  return out
    .replace(URL_SIG, '$1[REDACTED]')
    .replace(SLACK_HOOK, '$1[REDACTED]')
    .replace(WHSEC, '[REDACTED SECRET]')
    .replace(PEM_PRIVATE, '[REDACTED PRIVATE KEY]')
    .replace(JWT, '[REDACTED TOKEN]')
    .replace(LONG_BASE64, '[REDACTED BLOB]');
}

/**
 * Returns a copy of `value` with secret-named fields replaced and every string scrubbed. Cycles and depth are bounded
 * so that scrubbing an arbitrary error object cannot hang or blow the stack.
 */
export function scrubValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12 || seen.has(value)) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1, seen));
  if (value instanceof Error) {
    const code = (value as Error & { code?: unknown }).code;
    return {
      name: value.name,
      message: scrubString(value.message),
      ...(typeof code === 'string' ? { code } : {}),
      ...(value.stack ? { stack: scrubString(value.stack) } : {}),
    };
  }
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEYS.test(k) && v !== undefined && v !== null && typeof v !== 'boolean'
        ? '[REDACTED]'
        : scrubValue(v, depth + 1, seen);
  }
  return out;
}
