import { describe, expect, it } from 'vitest';
import { apiError } from '../../../test/helpers/api-error.ts';
import {
  ROLE_PERMISSIONS,
  checkEtag,
  emptyPolicy,
  isAllowed,
  nextEtag,
  permissionsOf,
  testPermissions,
  toPolicyVersion,
  validateMember,
  validatePolicy,
  type Binding,
  type Policy,
  type ResourceKind,
} from './iam.ts';

const GMAIL_PUSH = 'serviceAccount:gmail-api-push@system.gserviceaccount.com';
const PUBLISH = 'pubsub.topics.publish';

const policy = (...bindings: Binding[]): Policy => ({ version: 1, bindings, etag: nextEtag(undefined) });

/** Runs `fn` and returns the ApiError it throws, so tests can assert status and message. */

describe('ROLE_PERMISSIONS', () => {
  it.each([
    // role, grants pubsub.topics.publish
    ['roles/pubsub.publisher', true],
    ['roles/pubsub.editor', true],
    ['roles/pubsub.admin', true],
    ['roles/owner', true],
    ['roles/editor', true],
    ['roles/pubsub.subscriber', false],
    ['roles/pubsub.viewer', false],
    ['roles/viewer', false],
  ])('%s on the topic lets Gmail publish: %s', (role, allowed) => {
    const topic = validatePolicy({ bindings: [{ role, members: [GMAIL_PUSH] }] }, 'topic');
    expect(isAllowed([topic], GMAIL_PUSH, PUBLISH)).toBe(allowed);
  });

  it.each([
    ['roles/pubsub.publisher', ['pubsub.topics.publish']],
    ['roles/pubsub.subscriber', ['pubsub.snapshots.seek', 'pubsub.subscriptions.consume', 'pubsub.topics.attachSubscription']],
  ])('%s holds exactly Google’s list', (role, permissions) => {
    expect(ROLE_PERMISSIONS[role]).toEqual(permissions);
  });

  it('keeps policy administration to admin and owner', () => {
    const setters = ['pubsub.topics.setIamPolicy', 'pubsub.subscriptions.setIamPolicy', 'pubsub.snapshots.setIamPolicy'];
    for (const [role, permissions] of Object.entries(ROLE_PERMISSIONS)) {
      const expected = role === 'roles/pubsub.admin' || role === 'roles/owner';
      for (const setter of setters) expect(permissions.includes(setter), `${role} ${setter}`).toBe(expected);
    }
  });

  it('nests the predefined roles: publisher and subscriber inside editor inside admin', () => {
    const editor = new Set(ROLE_PERMISSIONS['roles/pubsub.editor']);
    const admin = new Set(ROLE_PERMISSIONS['roles/pubsub.admin']);
    for (const role of ['roles/pubsub.publisher', 'roles/pubsub.subscriber', 'roles/pubsub.viewer']) {
      for (const permission of ROLE_PERMISSIONS[role]) expect(editor.has(permission), `${role} ${permission}`).toBe(true);
    }
    for (const permission of editor) expect(admin.has(permission), permission).toBe(true);
  });
});

describe('isAllowed', () => {
  const project = (role: string, members: string[]): Policy => ({
    ...validatePolicy({ bindings: [{ role, members }] }, 'project'),
    etag: nextEtag(undefined),
  });

  it.each([
    // where the grant lives, members, caller, allowed
    ['topic', [GMAIL_PUSH], GMAIL_PUSH, true],
    ['project', [GMAIL_PUSH], GMAIL_PUSH, true],
    ['topic', ['serviceAccount:someone-else@example.iam.gserviceaccount.com'], GMAIL_PUSH, false],
    ['topic', ['allUsers'], GMAIL_PUSH, true],
    ['topic', ['allUsers'], null, true],
    ['topic', ['allAuthenticatedUsers'], GMAIL_PUSH, true],
    ['topic', ['allAuthenticatedUsers'], null, false],
    ['project', ['domain:system.gserviceaccount.com'], GMAIL_PUSH, true],
    ['project', ['domain:example.com'], GMAIL_PUSH, false],
    ['topic', ['serviceAccount:Gmail-API-Push@System.GServiceAccount.com'], GMAIL_PUSH, true],
    ['topic', ['user:gmail-api-push@system.gserviceaccount.com'], GMAIL_PUSH, false],
    ['topic', ['deleted:serviceAccount:gmail-api-push@system.gserviceaccount.com?uid=123'], GMAIL_PUSH, false],
  ] as const)('publisher on the %s for %j, caller %s -> %s', (where, members, caller, allowed) => {
    const binding = { role: 'roles/pubsub.publisher', members: [...members] };
    const policies = where === 'topic' ? [policy(binding), emptyPolicy()] : [emptyPolicy(), project(binding.role, binding.members)];
    expect(isAllowed(policies, caller, PUBLISH)).toBe(allowed);
  });

  it('denies when neither the topic nor the project grants anything', () => {
    expect(isAllowed([emptyPolicy(), emptyPolicy()], GMAIL_PUSH, PUBLISH)).toBe(false);
  });

  it('lets a project-level subscriber consume but not publish', () => {
    const policies = [emptyPolicy(), project('roles/pubsub.subscriber', [GMAIL_PUSH])];
    expect(isAllowed(policies, GMAIL_PUSH, 'pubsub.subscriptions.consume')).toBe(true);
    expect(isAllowed(policies, GMAIL_PUSH, PUBLISH)).toBe(false);
  });

  it('grants nothing through a conditional binding, since the broker cannot evaluate conditions', () => {
    const conditional = validatePolicy(
      { version: 3, bindings: [{ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH], condition: { expression: 'true' } }] },
      'project',
    );
    expect(permissionsOf(conditional, GMAIL_PUSH).size).toBe(0);
  });
});

describe('validatePolicy', () => {
  it('accepts a Gmail watch topic policy and normalises it to version 1', () => {
    expect(validatePolicy({ bindings: [{ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH, GMAIL_PUSH] }] }, 'topic')).toEqual({
      version: 1,
      bindings: [{ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH] }],
    });
  });

  it('treats a missing policy as empty and drops bindings without members', () => {
    expect(validatePolicy(undefined, 'topic')).toEqual({ version: 1, bindings: [] });
    expect(validatePolicy({ bindings: [{ role: 'roles/pubsub.viewer', members: [] }, { role: 'roles/pubsub.viewer' }] }, 'topic')).toEqual({
      version: 1,
      bindings: [],
    });
  });

  it.each([
    'user:alice@example.com',
    'group:team@example.com',
    'domain:example.com',
    'serviceAccount:my-project.svc.id.goog[ns/ksa]',
    'allUsers',
    'allAuthenticatedUsers',
    'principal://iam.googleapis.com/locations/global/workforcePools/pool/subject/dana@example.com',
    'principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/attribute.repository/org/repo',
    'deleted:user:alice@example.com?uid=123456789012345678901',
    'deleted:serviceAccount:sa@p.iam.gserviceaccount.com?uid=1',
    'deleted:group:team@example.com?uid=2',
  ])('accepts member %s', (member) => {
    expect(validateMember(member)).toBe(member);
  });

  const UNKNOWN = (m: string) => `The member ${m} is of an unknown type. Please set a valid type prefix for the member.`;
  const FORM = 'Policy members must be of the form "<type>:<value>".';

  it.each([
    ['alice@example.com', UNKNOWN('alice@example.com')],
    ['robot:alice@example.com', UNKNOWN('robot:alice@example.com')],
    ['allusers', UNKNOWN('allusers')],
    ['user:', FORM],
    ['user:alice', FORM],
    ['serviceAccount:not an email', FORM],
    ['domain:', FORM],
    ['deleted:user:alice@example.com', FORM],
    ['principal://', FORM],
    ['', FORM],
  ])('rejects member %j', (member, message) => {
    const error = apiError(() => validatePolicy({ bindings: [{ role: 'roles/pubsub.publisher', members: [member] }] }, 'topic'));
    expect([error.status, error.message]).toEqual(['INVALID_ARGUMENT', message]);
  });

  it.each([
    // role, kind, accepted
    ['roles/pubsub.publisher', 'topic', true],
    ['roles/pubsub.publisher', 'subscription', false],
    ['roles/pubsub.publisher', 'snapshot', false],
    ['roles/pubsub.subscriber', 'topic', true],
    ['roles/pubsub.subscriber', 'subscription', true],
    ['roles/pubsub.subscriber', 'snapshot', true],
    ['roles/pubsub.viewer', 'snapshot', true],
    ['roles/owner', 'topic', true],
    ['roles/viewer', 'subscription', true],
    ['roles/pubsub.editor', 'project', true],
    ['roles/storage.admin', 'topic', false],
    ['roles/storage.admin', 'project', false],
    ['roles/pubsub.publisher_withcond_0123456789abcdef0123', 'topic', false],
    ['projects/p/roles/custom', 'topic', false],
    ['', 'topic', false],
  ] as const)('%s on a %s: accepted %s', (role, kind, accepted) => {
    const run = () => validatePolicy({ bindings: [{ role, members: [GMAIL_PUSH] }] }, kind as ResourceKind);
    if (accepted) {
      expect(run().bindings).toHaveLength(1);
    } else {
      const error = apiError(run);
      expect([error.status, error.message]).toEqual(['INVALID_ARGUMENT', `Role ${role} is not supported for this resource.`]);
    }
  });

  it.each([2, 4, -1, 1.5, '1'])('rejects policy version %j', (version) => {
    expect(apiError(() => validatePolicy({ version, bindings: [] }, 'topic')).status).toBe('INVALID_ARGUMENT');
  });

  it.each([0, 1, 3])('accepts policy version %i', (version) => {
    expect(validatePolicy({ version, bindings: [] }, 'topic')).toEqual({ version: 1, bindings: [] });
  });

  const conditional = (version: number) => ({
    version,
    bindings: [{ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH], condition: { title: 'weekdays', expression: 'true' } }],
  });

  it('rejects conditions on topics, subscriptions and snapshots', () => {
    for (const kind of ['topic', 'subscription', 'snapshot'] as const) {
      expect(apiError(() => validatePolicy(conditional(3), kind)).status).toBe('INVALID_ARGUMENT');
    }
  });

  it('rejects conditions below version 3 and keeps them at version 3 on projects', () => {
    expect(apiError(() => validatePolicy(conditional(1), 'project')).status).toBe('INVALID_ARGUMENT');
    expect(apiError(() => validatePolicy(conditional(0), 'project')).status).toBe('INVALID_ARGUMENT');
    expect(validatePolicy(conditional(3), 'project')).toEqual({
      version: 3,
      bindings: [{ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH], condition: { title: 'weekdays', expression: 'true' } }],
    });
  });

  it('rejects a condition without an expression', () => {
    const input = { version: 3, bindings: [{ role: 'roles/owner', members: [GMAIL_PUSH], condition: { title: 'x' } }] };
    expect(apiError(() => validatePolicy(input, 'project')).status).toBe('INVALID_ARGUMENT');
  });
});

describe('etags', () => {
  it('starts a never-set policy at etag "ACAB", as Pub/Sub does', () => {
    expect(emptyPolicy().etag.toString('base64')).toBe('ACAB');
  });

  it('moves to a new 8-byte etag on every write', () => {
    const first = nextEtag(emptyPolicy().etag);
    const second = nextEtag(first);
    expect(first).toHaveLength(8);
    expect(first.equals(emptyPolicy().etag)).toBe(false);
    expect(second.equals(first)).toBe(false);
    expect(nextEtag(first).equals(second)).toBe(true);
  });

  it.each([
    // requested etag, accepted
    ['the current etag', true],
    ['no etag (blind overwrite)', true],
    ['an empty etag', true],
    ['the etag before the last write', false],
    ['an etag from another resource', false],
  ])('checkEtag with %s: accepted %s', (which, accepted) => {
    const before = emptyPolicy();
    const current: Policy = { ...policy(), etag: nextEtag(before.etag) };
    const requested = {
      'the current etag': Buffer.from(current.etag),
      'no etag (blind overwrite)': undefined,
      'an empty etag': Buffer.alloc(0),
      'the etag before the last write': before.etag,
      'an etag from another resource': Buffer.from('BwWdn769RKc=', 'base64'),
    }[which];
    if (accepted) {
      expect(() => checkEtag(current, requested)).not.toThrow();
    } else {
      const error = apiError(() => checkEtag(current, requested));
      expect([error.status, error.httpStatus, error.message]).toEqual([
        'ABORTED',
        409,
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      ]);
    }
  });
});

describe('toPolicyVersion', () => {
  const plain = policy({ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH] });
  const withCondition: Policy = {
    version: 3,
    etag: nextEtag(undefined),
    bindings: [
      { role: 'roles/pubsub.viewer', members: ['group:team@example.com'] },
      { role: 'roles/pubsub.publisher', members: [GMAIL_PUSH], condition: { title: 't', expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' } },
    ],
  };

  it.each([undefined, 0, 1, 3])('answers version 1 for a policy without conditions (requested %s)', (requested) => {
    expect(toPolicyVersion(plain, requested)).toEqual({ ...plain, version: 1 });
  });

  it('answers conditions in full when version 3 is requested', () => {
    expect(toPolicyVersion(withCondition, 3)).toEqual(withCondition);
  });

  it.each([undefined, 0, 1])('hides conditions behind _withcond_ roles when version %s is requested', (requested) => {
    const answered = toPolicyVersion(withCondition, requested);
    expect(answered.version).toBe(1);
    expect(answered.bindings[0]).toEqual(withCondition.bindings[0]);
    expect(answered.bindings[1].role).toMatch(/^roles\/pubsub\.publisher_withcond_[0-9a-f]{20}$/);
    expect(answered.bindings[1].condition).toBeUndefined();
    expect(answered.bindings[1].members).toEqual([GMAIL_PUSH]);
    expect(toPolicyVersion(withCondition, requested).bindings[1].role).toBe(answered.bindings[1].role);
  });

  it.each([2, 4, -1])('rejects requested version %i', (requested) => {
    expect(apiError(() => toPolicyVersion(plain, requested)).status).toBe('INVALID_ARGUMENT');
  });
});

describe('testPermissions', () => {
  const holds = (...granted: string[]) => (permission: string) => granted.includes(permission);

  it('answers the held subset in request order, once each', () => {
    const requested = ['pubsub.topics.update', PUBLISH, 'pubsub.topics.get', PUBLISH];
    expect(testPermissions(requested, holds(PUBLISH, 'pubsub.topics.get'), 'topic')).toEqual([PUBLISH, 'pubsub.topics.get']);
  });

  it('answers an empty list for an empty request', () => {
    expect(testPermissions([], holds(PUBLISH), 'topic')).toEqual([]);
  });

  it('does not answer permissions of another resource type', () => {
    const requested = ['pubsub.subscriptions.consume', PUBLISH];
    expect(testPermissions(requested, holds(...requested), 'topic')).toEqual([PUBLISH]);
    expect(testPermissions(requested, holds(...requested), 'project')).toEqual(requested);
  });

  it.each(['*', 'pubsub.*', 'pubsub.topics.*', 'pubsub.topics.pub*'])('rejects wildcard %s', (permission) => {
    const error = apiError(() => testPermissions([PUBLISH, permission], holds(PUBLISH), 'topic'));
    expect(error.status).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('wildcards');
  });

  it.each(['pubsub.topics.frobnicate', 'storage.objects.get', 'roles/pubsub.publisher', ''])('rejects unknown permission %j', (permission) => {
    const error = apiError(() => testPermissions([permission], holds(), 'topic'));
    expect([error.status, error.message]).toEqual(['INVALID_ARGUMENT', `Permission ${permission} is not valid.`]);
  });
});
