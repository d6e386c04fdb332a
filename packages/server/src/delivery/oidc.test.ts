import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createOidcSigner, GOOGLE_ISSUER, type KeyStore, type StoredKey } from './oidc.ts';

/** A store that keeps the first key saved, like an insert-or-ignore row. */
function memoryStore(): KeyStore & { saves: number; key?: StoredKey } {
  const store = {
    saves: 0,
    key: undefined as StoredKey | undefined,
    async load() {
      return store.key;
    },
    async save(key: StoredKey) {
      store.saves++;
      store.key ??= key;
    },
  };
  return store;
}

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
const EMAIL = 'push-invoker@my-project.iam.gserviceaccount.com';
const AUDIENCE = 'https://example.com/push';

describe('createOidcSigner', () => {
  it('signs a token that verifies against its JWKS with Google-shaped claims', async () => {
    const signer = await createOidcSigner(memoryStore());
    const token = await signer.sign({ audience: AUDIENCE, serviceAccountEmail: EMAIL, now: NOW });

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(signer.jwks() as never), {
      issuer: GOOGLE_ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(NOW),
    });

    const kid = (signer.jwks().keys[0] as { kid: string }).kid;
    expect(protectedHeader).toEqual({ alg: 'RS256', kid, typ: 'JWT' });
    expect(kid).toMatch(/^[0-9a-f]{40}$/);
    expect(Object.keys(payload)).toEqual(['aud', 'azp', 'email', 'email_verified', 'exp', 'iat', 'iss', 'sub']);
    expect(payload).toMatchObject({
      aud: AUDIENCE,
      email: EMAIL,
      email_verified: true,
      iat: Math.floor(NOW / 1000),
      exp: Math.floor(NOW / 1000) + 3600,
      iss: 'https://accounts.google.com',
    });
    expect(payload.sub).toMatch(/^1\d{20}$/);
    expect(payload.azp).toBe(payload.sub);
  });

  it('gives each service account its own stable numeric subject', async () => {
    const signer = await createOidcSigner(memoryStore());
    const subjectOf = async (email: string, now: number) => {
      const token = await signer.sign({ audience: AUDIENCE, serviceAccountEmail: email, now });
      const { payload } = await jwtVerify(token, createLocalJWKSet(signer.jwks() as never), { currentDate: new Date(now) });
      return payload.sub;
    };
    const first = await subjectOf(EMAIL, NOW);
    expect(await subjectOf(EMAIL, NOW + 60_000)).toBe(first);
    expect(await subjectOf('other@my-project.iam.gserviceaccount.com', NOW)).not.toBe(first);
  });

  it('uses a configured issuer', async () => {
    const signer = await createOidcSigner(memoryStore(), { issuer: 'https://mailwatch.example' });
    const token = await signer.sign({ audience: AUDIENCE, serviceAccountEmail: EMAIL, now: NOW });
    const { payload } = await jwtVerify(token, createLocalJWKSet(signer.jwks() as never), {
      issuer: 'https://mailwatch.example',
      currentDate: new Date(NOW),
    });
    expect(payload.iss).toBe('https://mailwatch.example');
  });

  it('rejects the token once it has expired', async () => {
    const signer = await createOidcSigner(memoryStore());
    const token = await signer.sign({ audience: AUDIENCE, serviceAccountEmail: EMAIL, now: NOW });
    await expect(
      jwtVerify(token, createLocalJWKSet(signer.jwks() as never), { currentDate: new Date(NOW + 3601_000) }),
    ).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it('generates and saves one key, then reuses it from the store', async () => {
    const store = memoryStore();
    const first = await createOidcSigner(store, { clock: { now: () => NOW } });
    const second = await createOidcSigner(store);

    expect(store.saves).toBe(1);
    expect(store.key?.createdAt).toBe(NOW);
    expect(second.jwks()).toEqual(first.jwks());
    const token = await first.sign({ audience: AUDIENCE, serviceAccountEmail: EMAIL, now: NOW });
    await expect(
      jwtVerify(token, createLocalJWKSet(second.jwks() as never), { currentDate: new Date(NOW) }),
    ).resolves.toBeDefined();
  });

  it('publishes only the public key', async () => {
    const signer = await createOidcSigner(memoryStore());
    const [jwk] = signer.jwks().keys as Record<string, unknown>[];
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
  });

  it('does not verify a token signed with another key', async () => {
    const ours = await createOidcSigner(memoryStore());
    const theirs = await createOidcSigner(memoryStore());
    const jwks = createLocalJWKSet(ours.jwks() as never);

    const foreign = await theirs.sign({ audience: AUDIENCE, serviceAccountEmail: EMAIL, now: NOW });
    await expect(jwtVerify(foreign, jwks, { currentDate: new Date(NOW) })).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);

    // The same token with our kid in its header still fails: the signature is not ours.
    const ourKid = (ours.jwks().keys[0] as { kid: string }).kid;
    const [, payload, signature] = foreign.split('.');
    const header = Buffer.from(JSON.stringify({ ...decodeProtectedHeader(foreign), kid: ourKid })).toString('base64url');
    await expect(jwtVerify(`${header}.${payload}.${signature}`, jwks, { currentDate: new Date(NOW) })).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    );
  });

  it('refuses to sign without an audience or a service account', async () => {
    const signer = await createOidcSigner(memoryStore());
    await expect(signer.sign({ audience: '', serviceAccountEmail: EMAIL, now: NOW })).rejects.toThrow(/audience/);
    await expect(signer.sign({ audience: AUDIENCE, serviceAccountEmail: '', now: NOW })).rejects.toThrow(/serviceAccountEmail/);
  });
});
