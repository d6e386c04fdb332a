/**
 * OIDC tokens for authenticated push (pushConfig.oidcToken). Google signs with its own keys; a
 * self-hosted broker cannot, so mailwatch signs with one RS256 key of its own, kept in a
 * KeyStore, and publishes the public half as a JWKS for verifiers to fetch.
 *
 * The token copies Google's (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions,
 * "JWT format"; the example there decodes to):
 *   header  {"alg":"RS256","kid":"7d680d8c70d44e947133cbd499ebc1a61c3d5abc","typ":"JWT"}
 *   claims  {"aud":"https://example.com","azp":"113774264463038321964",
 *            "email":"gae-gcp@appspot.gserviceaccount.com","email_verified":true,
 *            "exp":1550185935,"iat":1550182335,"iss":"https://accounts.google.com",
 *            "sub":"113774264463038321964"}
 * so exp = iat + 3600, and sub = azp = the service account's numeric unique id.
 * The audience is the configured one or, when unset, the push endpoint URL (proto comment on
 * PushConfig.OidcToken.audience: "if not specified, the Push endpoint URL will be used"); the
 * caller resolves that before calling sign().
 */
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { systemClock, type Clock } from '../domain/clock.ts';

export interface StoredKey {
  kid: string;
  /** Private RSA JWK (with kid, alg); never leaves the store and this module. */
  privateJwk: object;
  /** Public RSA JWK (kty, n, e, kid, alg, use), as published in the JWKS. */
  publicJwk: object;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

export interface KeyStore {
  load(): Promise<StoredKey | undefined>;
  save(key: StoredKey): Promise<void>;
}

export interface OidcSigner {
  sign(claims: { audience: string; serviceAccountEmail: string; now: number }): Promise<string>;
  jwks(): { keys: object[] };
}

/** Google's issuer; verifiers written for Google check it, so it is the default. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

const ALG = 'RS256';
const TOKEN_LIFETIME_SECONDS = 3600;

/**
 * Loads the signing key from `store`, or generates one and saves it. After saving, the key is
 * read back: with a store that keeps the first key saved, two processes starting at once end
 * up signing with the same key.
 */
export async function createOidcSigner(
  store: KeyStore,
  options: { issuer?: string; clock?: Clock } = {},
): Promise<OidcSigner> {
  const issuer = options.issuer ?? GOOGLE_ISSUER;
  let stored = await store.load();
  if (!stored) {
    await store.save(await generateStoredKey((options.clock ?? systemClock).now()));
    stored = await store.load();
    if (!stored) throw new Error('key store did not keep the saved signing key');
  }
  const key = stored;
  const privateKey = await importJWK(key.privateJwk as JWK, ALG);
  const publicJwk = publicPart(key.publicJwk as JWK, key.kid);

  return {
    async sign({ audience, serviceAccountEmail, now }) {
      if (!audience) throw new TypeError('audience is required (use the push endpoint when none is configured)');
      if (!serviceAccountEmail) throw new TypeError('serviceAccountEmail is required');
      const iat = Math.floor(now / 1000);
      const id = serviceAccountNumericId(serviceAccountEmail);
      // Claim order as in Google's example.
      return new SignJWT({
        aud: audience,
        azp: id,
        email: serviceAccountEmail,
        email_verified: true,
        exp: iat + TOKEN_LIFETIME_SECONDS,
        iat,
        iss: issuer,
        sub: id,
      })
        .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
        .sign(privateKey);
    },
    jwks() {
      return { keys: [{ ...publicJwk }] };
    },
  };
}

/**
 * Google puts the service account's numeric unique id in sub and azp (21 digits in the example).
 * mailwatch has no such id, so it derives one from the email: "1" followed by 20 decimal digits
 * taken from the SHA-256 of the lower-cased email. The same email always gives the same id, and
 * it looks like Google's to code that stores or compares it.
 */
export function serviceAccountNumericId(email: string): string {
  const digest = createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
  const digits = (BigInt(`0x${digest.slice(0, 32)}`) % 10n ** 20n).toString().padStart(20, '0');
  return `1${digits}`;
}

async function generateStoredKey(createdAt: number): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  // Google's kids are 40 hex digits; ours have the same shape.
  const kid = randomBytes(20).toString('hex');
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
  return { kid, privateJwk, publicJwk: publicPart(await exportJWK(publicKey), kid), createdAt };
}

/** Only the public members, in the shape of Google's certs endpoint (kty, n, e, alg, use, kid). */
function publicPart(jwk: JWK, kid: string): JWK {
  return { kty: jwk.kty, n: jwk.n, e: jwk.e, alg: ALG, use: 'sig', kid };
}
