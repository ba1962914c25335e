import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenCheck =
  | { ok: true; path: string; expiresAt: number; keyName: string }
  | { ok: false; description: string };

/**
 * The path part of an audience, lower-cased. Hosts are ignored on purpose: they depend on what the
 * client typed (`localhost` vs `127.0.0.1`, with or without port).
 */
export function audiencePath(audience: string): string {
  let rest = audience.trim();
  const scheme = rest.indexOf('://');
  if (scheme >= 0) {
    rest = rest.slice(scheme + 3);
    const slash = rest.indexOf('/');
    rest = slash >= 0 ? rest.slice(slash) : '/';
  }
  if (!rest.startsWith('/')) rest = `/${rest}`;
  return rest.replace(/\/+$/, '').toLowerCase() || '/';
}

export function pathCovers(claimPath: string, requested: string): boolean {
  return (
    claimPath === '/' ||
    requested === claimPath ||
    requested.startsWith(claimPath.endsWith('/') ? claimPath : `${claimPath}/`)
  );
}

/** `SharedAccessSignature sr=…&sig=…&se=…&skn=…`, exactly as core-amqp builds it. */
export function createSasToken(
  audience: string,
  keyName: string,
  key: string,
  expiresAtSeconds: number,
): string {
  const sr = encodeURIComponent(audience);
  const sig = encodeURIComponent(sign(key, `${sr}\n${expiresAtSeconds}`));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiresAtSeconds}&skn=${encodeURIComponent(keyName)}`;
}

// The SDK uses the key string's UTF-8 bytes as the HMAC key; it does not base64-decode it.
function sign(key: string, text: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8'))
    .update(text, 'utf8')
    .digest('base64');
}

export function validateSasToken(
  token: string,
  requestedAudience: string,
  keys: Readonly<Record<string, string>>,
  now = Date.now(),
): TokenCheck {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) {
    return {
      ok: false,
      description: 'InvalidToken: The token is not a shared access signature.',
    };
  }
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (
    sr === undefined ||
    sig === undefined ||
    se === undefined ||
    skn === undefined
  ) {
    return {
      ok: false,
      description: 'InvalidToken: The token is missing sr, sig, se or skn.',
    };
  }
  const keyName = safeDecode(skn);
  const key: string | undefined =
    keyName === undefined ? undefined : keys[keyName];
  if (key === undefined) {
    return {
      ok: false,
      description: `InvalidSignature: The key name '${keyName ?? skn}' is not known.`,
    };
  }
  // Recomputed over the still-encoded `sr` as received: that is the string the client signed.
  const expected = Buffer.from(sign(key, `${sr}\n${se}`));
  const given = Buffer.from(safeDecode(sig) ?? '');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ok: false,
      description: 'InvalidSignature: The token has an invalid signature.',
    };
  }
  const expiresAt = Number(se) * 1000;
  if (!Number.isFinite(expiresAt) || expiresAt <= now) {
    return { ok: false, description: 'ExpiredToken: The token is expired.' };
  }
  const resource = safeDecode(sr);
  const path = resource === undefined ? undefined : audiencePath(resource);
  if (
    path === undefined ||
    !pathCovers(path, audiencePath(requestedAudience))
  ) {
    return {
      ok: false,
      description: `InvalidAudience: The token audience '${resource ?? sr}' does not cover '${requestedAudience}'.`,
    };
  }
  return { ok: true, path, expiresAt, keyName: keyName ?? skn };
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
