/**
 * IAM policy decisions for the broker: which roles grant what, what setIamPolicy accepts, etags,
 * policy versions, and whether a member may do something. Pure: storage and transports call in.
 *
 * Sources are cited where a fact is used. Messages marked "ours" are not Google's verified wording.
 */
import { createHash } from 'node:crypto';
import { ApiError } from '../errors.ts';

export interface Condition {
  expression: string;
  title?: string;
  description?: string;
  location?: string;
}

export interface Binding {
  role: string;
  members: string[];
  condition?: Condition;
}

export interface Policy {
  version: number;
  bindings: Binding[];
  etag: Buffer;
}

export type ResourceKind = 'project' | 'topic' | 'subscription' | 'snapshot';

/** What setIamPolicy stores before the store assigns an etag. */
export type PolicyBody = Omit<Policy, 'etag'>;

// ---------------------------------------------------------------------------------------------
// Roles. Permission lists are Google's, restricted to pubsub.* (the broker knows no others):
// https://cloud.google.com/iam/docs/roles-permissions/pubsub and
// https://cloud.google.com/pubsub/docs/access-control#roles, cross-checked against the dumps in
// iann0036/iam-dataset gcp/roles/pubsub.*.json and gcp/permissions.json.

const p = (resource: string, verbs: string): string[] =>
  verbs.split(' ').map((verb) => `pubsub.${resource}.${verb}`);

const TAG_READ = 'listEffectiveTags listTagBindings';
const TAG_WRITE = 'createTagBinding deleteTagBinding';

const PUBLISHER = p('topics', 'publish');
const SUBSCRIBER = [...p('snapshots', 'seek'), ...p('subscriptions', 'consume'), ...p('topics', 'attachSubscription')];
const VIEWER = [
  ...p('messageTransforms', 'validate'),
  ...p('schemas', 'get list listRevisions validate'),
  ...p('snapshots', `get list ${TAG_READ}`),
  ...p('subscriptions', `get list ${TAG_READ}`),
  ...p('topics', `get list ${TAG_READ}`),
];
const EDITOR = [
  ...p('messageTransforms', 'validate'),
  ...p('schemas', 'attach commit create delete get list listRevisions rollback validate'),
  ...p('snapshots', `create delete get list seek update ${TAG_READ} ${TAG_WRITE}`),
  ...p('subscriptions', `consume create delete get list update ${TAG_READ} ${TAG_WRITE}`),
  ...p('topics', `attachSubscription create delete detachSubscription get list publish update updateTag ${TAG_READ} ${TAG_WRITE}`),
];
const POLICY_ADMIN = ['schemas', 'snapshots', 'subscriptions', 'topics'].flatMap((r) => p(r, 'getIamPolicy setIamPolicy'));
/** roles/pubsub.admin holds every pubsub.* permission ("pubsub.*" on Google's roles page). */
const ADMIN = [...EDITOR, ...POLICY_ADMIN].sort();

/**
 * Basic roles, from iam-dataset gcp/permissions.json (permission -> roles): Owner has every
 * pubsub permission; Editor all but {topics,subscriptions,snapshots}.{get,set}IamPolicy and
 * schemas.setIamPolicy; Viewer the reads plus, as Google lists it, schemas.attach,
 * schemas.getIamPolicy and snapshots.seek. That dump predates the tag-binding and
 * messageTransforms permissions; for those we assume basic roles follow pubsub.editor/viewer
 * (Google's page lists messageTransforms.validate under Owner, Editor and Viewer).
 */
const BASIC_EDITOR = [...EDITOR, 'pubsub.schemas.getIamPolicy'].sort();
const BASIC_VIEWER = [...VIEWER, ...p('schemas', 'attach getIamPolicy'), 'pubsub.snapshots.seek'].sort();

export const ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'roles/pubsub.publisher': PUBLISHER,
  'roles/pubsub.subscriber': SUBSCRIBER,
  'roles/pubsub.viewer': VIEWER,
  'roles/pubsub.editor': EDITOR,
  'roles/pubsub.admin': ADMIN,
  'roles/owner': ADMIN,
  'roles/editor': BASIC_EDITOR,
  'roles/viewer': BASIC_VIEWER,
});

/** Every Pub/Sub permission the broker knows; testIamPermissions accepts nothing else. */
export const PUBSUB_PERMISSIONS: ReadonlySet<string> = new Set(ADMIN);

const KIND_PREFIX: Record<ResourceKind, string> = {
  project: 'pubsub.',
  topic: 'pubsub.topics.',
  subscription: 'pubsub.subscriptions.',
  snapshot: 'pubsub.snapshots.',
};

/** Whether a permission can be checked on (and so granted through) a resource of this kind. */
export const appliesTo = (permission: string, kind: ResourceKind): boolean => permission.startsWith(KIND_PREFIX[kind]);

/**
 * A role can be bound on a resource when it carries a permission for that resource type, so
 * roles/pubsub.publisher fits a topic but not a subscription. Inferred from Google's "lowest-level
 * resources where you can grant this role" (admin: schema, snapshot, subscription, topic).
 */
export function roleSupported(role: string, kind: ResourceKind): boolean {
  const permissions = ROLE_PERMISSIONS[role];
  return permissions !== undefined && permissions.some((permission) => appliesTo(permission, kind));
}

// ---------------------------------------------------------------------------------------------
// Policies and etags.

/** getIamPolicy on a resource that never had one set answers etag "ACAB" (google-cloud-python#1654). */
const EMPTY_ETAG = Buffer.from('ACAB', 'base64');

export const emptyPolicy = (): Policy => ({ version: 1, bindings: [], etag: Buffer.from(EMPTY_ETAG) });

/**
 * The etag after a write: an 8-byte big-endian counter (Google's look like "BwWdn769RKc=", 8 bytes).
 * Never equal to the previous one, so a client holding it gets ABORTED.
 */
export function nextEtag(previous: Buffer | undefined): Buffer {
  const counter = previous?.length === 8 ? previous.readBigUInt64BE(0) : 0n;
  const etag = Buffer.alloc(8);
  etag.writeBigUInt64BE((counter + 1n) & 0xffff_ffff_ffff_ffffn);
  return etag;
}

/**
 * setIamPolicy's read-modify-write check. No etag means overwrite blindly, as Google allows
 * ("If you omit this field, then IAM allows you to overwrite", google.iam.v1.Policy.version docs).
 * Google answers 409 ABORTED with this text (DataBiosphere/leonardo#737).
 */
export function checkEtag(current: Policy, requestedEtag: Buffer | undefined): void {
  if (requestedEtag === undefined || requestedEtag.length === 0) return;
  if (!requestedEtag.equals(current.etag)) {
    throw new ApiError(
      'ABORTED',
      'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// setIamPolicy validation.

/** "Valid values are 0, 1, and 3. Requests that specify an invalid value are rejected." */
const VALID_VERSIONS = new Set([0, 1, 3]);

const EMAIL = /^[^\s@:]+@[^\s@:]+\.[^\s@:]+$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
/** Workload identity members, e.g. serviceAccount:my-project.svc.id.goog[ns/ksa]. */
const WORKLOAD_IDENTITY = /^[^\s@:]+\.svc\.id\.goog\[[^\s\]]+\]$/;
const DELETED = /^(user|serviceAccount|group):([^?]+)\?uid=\d+$/;

const unknownType = (member: string): ApiError =>
  // Google's text for a member without a valid type prefix (DefangLabs/defang#1541,
  // terraform-provider-google#12672).
  new ApiError('INVALID_ARGUMENT', `The member ${member} is of an unknown type. Please set a valid type prefix for the member.`);

/** Google's text for a malformed member value (terraform-provider-google#4965). */
const badForm = (): ApiError => new ApiError('INVALID_ARGUMENT', 'Policy members must be of the form "<type>:<value>".');

/** Throws INVALID_ARGUMENT unless `member` is a principal Google accepts in a binding. */
export function validateMember(member: unknown): string {
  if (typeof member !== 'string' || member === '') throw badForm();
  if (member === 'allUsers' || member === 'allAuthenticatedUsers') return member;
  if (member.startsWith('principal://') || member.startsWith('principalSet://')) {
    if (/^principal(Set)?:\/\/[^\s/]+\/\S+$/.test(member)) return member;
    throw badForm();
  }
  const colon = member.indexOf(':');
  if (colon < 0) throw unknownType(member);
  const type = member.slice(0, colon);
  const value = member.slice(colon + 1);
  switch (type) {
    case 'user':
    case 'group':
      if (EMAIL.test(value)) return member;
      throw badForm();
    case 'serviceAccount':
      if (EMAIL.test(value) || WORKLOAD_IDENTITY.test(value)) return member;
      throw badForm();
    case 'domain':
      if (DOMAIN.test(value)) return member;
      throw badForm();
    case 'deleted': {
      const match = DELETED.exec(value);
      if (match && EMAIL.test(match[2])) return member;
      throw badForm();
    }
    default:
      throw unknownType(member);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function validateCondition(raw: unknown): Condition {
  if (!isRecord(raw) || typeof raw.expression !== 'string' || raw.expression.trim() === '') {
    throw new ApiError('INVALID_ARGUMENT', 'Condition expression must not be empty.'); // ours
  }
  const condition: Condition = { expression: raw.expression };
  for (const field of ['title', 'description', 'location'] as const) {
    const value = raw[field];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw new ApiError('INVALID_ARGUMENT', `Condition ${field} must be a string.`); // ours
    condition[field] = value;
  }
  return condition;
}

/**
 * Checks a decoded setIamPolicy `policy` (JSON or proto object, etag ignored here) against what
 * Google accepts for a resource of `kind`, and returns it normalised: version 3 when a binding has
 * a condition, else 1; bindings without members dropped; duplicate members removed.
 *
 * Bindings without members are dropped, not rejected: Resource Manager accepts
 * `{"role":"roles/editor"}` as "nobody has this role" (terraform-provider-google#3606).
 */
export function validatePolicy(input: unknown, kind: ResourceKind): PolicyBody {
  const raw = isRecord(input) ? input : {};
  const version = raw.version ?? 0;
  if (typeof version !== 'number' || !VALID_VERSIONS.has(version)) {
    throw new ApiError('INVALID_ARGUMENT', `Invalid policy version ${String(version)}. Valid values are 0, 1, and 3.`); // ours
  }
  const rawBindings = raw.bindings ?? [];
  if (!Array.isArray(rawBindings)) throw new ApiError('INVALID_ARGUMENT', 'Policy bindings must be a list.'); // ours

  const bindings: Binding[] = [];
  for (const rawBinding of rawBindings) {
    const binding = isRecord(rawBinding) ? rawBinding : {};
    const role = typeof binding.role === 'string' ? binding.role : '';
    // Google's text: "Role roles/appengine.deployer is not supported for this resource."
    // (hashicorp/terraform#25623, crossplane-contrib/provider-gcp#381).
    if (!roleSupported(role, kind)) throw new ApiError('INVALID_ARGUMENT', `Role ${role} is not supported for this resource.`);

    const rawMembers = binding.members ?? [];
    if (!Array.isArray(rawMembers)) throw badForm();
    const members = [...new Set(rawMembers.map(validateMember))];

    let condition: Condition | undefined;
    if (binding.condition !== undefined && binding.condition !== null) {
      // Pub/Sub topics, subscriptions and snapshots take no conditional bindings; projects do
      // (https://cloud.google.com/iam/help/conditions/resource-policies).
      if (kind !== 'project') {
        throw new ApiError('INVALID_ARGUMENT', 'Conditional role bindings are not supported for this resource.'); // ours
      }
      // "Any operation that affects conditional role bindings must specify version 3."
      if (version < 3) {
        throw new ApiError('INVALID_ARGUMENT', 'Conditional role bindings require policy version 3.'); // ours
      }
      condition = validateCondition(binding.condition);
    }
    if (members.length === 0) continue;
    bindings.push(condition ? { role, members, condition } : { role, members });
  }
  return { version: bindings.some((b) => b.condition) ? 3 : 1, bindings };
}

// ---------------------------------------------------------------------------------------------
// getIamPolicy versions.

/**
 * The policy as getIamPolicy returns it for `options.requestedPolicyVersion`. Google: valid values
 * are 0, 1 and 3; a policy without conditions comes back as version 1 whatever was asked; asked
 * for below 3, each conditional binding's role becomes `<role>_withcond_<hash>` and its condition
 * is hidden (https://cloud.google.com/iam/docs/troubleshooting-withcond). Google's hash is
 * unspecified; ours is the first 20 hex digits of SHA-256 over the condition, like its example.
 */
export function toPolicyVersion(policy: Policy, requestedVersion: number | undefined): Policy {
  const requested = requestedVersion ?? 0;
  if (!VALID_VERSIONS.has(requested)) {
    throw new ApiError('INVALID_ARGUMENT', `Invalid requested policy version ${requested}. Valid values are 0, 1, and 3.`); // ours
  }
  const conditional = policy.bindings.some((b) => b.condition);
  if (!conditional) return { ...policy, version: 1 };
  if (requested === 3) return { ...policy, version: 3 };
  const bindings = policy.bindings.map((binding): Binding => {
    if (!binding.condition) return binding;
    const { expression, title = '', description = '', location = '' } = binding.condition;
    const hash = createHash('sha256').update(JSON.stringify([expression, title, description, location])).digest('hex');
    return { role: `${binding.role}_withcond_${hash.slice(0, 20)}`, members: binding.members };
  });
  return { ...policy, version: 1, bindings };
}

// ---------------------------------------------------------------------------------------------
// Decisions.

const EMAIL_TYPES = new Set(['user', 'serviceAccount', 'group']);

/** Member strings compare case-insensitively in their email part (Google emails are). */
function canonical(member: string): string {
  const colon = member.indexOf(':');
  if (colon < 0) return member;
  const type = member.slice(0, colon);
  return EMAIL_TYPES.has(type) || type === 'domain' ? `${type}:${member.slice(colon + 1).toLowerCase()}` : member;
}

/** Whether a binding member stands for the caller. `member` null is an unauthenticated caller. */
function covers(bindingMember: string, member: string | null): boolean {
  if (bindingMember === 'allUsers') return true;
  if (member === null) return false;
  if (bindingMember === 'allAuthenticatedUsers') return true;
  const wanted = canonical(member);
  const granted = canonical(bindingMember);
  if (granted === wanted) return true;
  // domain:example.com covers users and service accounts with an @example.com address.
  if (granted.startsWith('domain:')) {
    const at = wanted.lastIndexOf('@');
    return at > 0 && /^(user|serviceAccount):/.test(wanted) && wanted.slice(at + 1) === granted.slice('domain:'.length);
  }
  return false;
}

/**
 * Permissions `member` holds through one policy (null = unauthenticated caller). Conditional
 * bindings grant nothing: the broker cannot evaluate CEL, so it fails closed. Group bindings
 * grant only to the group string itself: the broker cannot expand groups.
 */
export function permissionsOf(policy: Pick<Policy, 'bindings'>, member: string | null): Set<string> {
  const granted = new Set<string>();
  for (const binding of policy.bindings) {
    if (binding.condition) continue;
    if (!binding.members.some((m) => covers(m, member))) continue;
    for (const permission of ROLE_PERMISSIONS[binding.role] ?? []) granted.add(permission);
  }
  return granted;
}

/**
 * Whether `member` holds `permission` through any of `policies`: the resource's own and its
 * project's, since project grants apply to every resource in the project.
 */
export function isAllowed(policies: readonly Pick<Policy, 'bindings'>[], member: string | null, permission: string): boolean {
  return policies.some((policy) => permissionsOf(policy, member).has(permission));
}

/**
 * testIamPermissions: the requested permissions the caller holds, in request order. Google
 * rejects wildcards ("Permissions with wildcards (such as * or storage.*) are not allowed",
 * TestIamPermissionsRequest docs) and unknown permission strings with 400 (google-cloud-python#1776);
 * the exact texts are ours. A Pub/Sub permission of another resource type (consume asked on a
 * topic) is answered as not held, not rejected: unverified.
 */
export function testPermissions(requested: readonly string[], granted: (permission: string) => boolean, kind: ResourceKind): string[] {
  for (const permission of requested) {
    if (permission.includes('*')) {
      throw new ApiError('INVALID_ARGUMENT', `Permissions with wildcards (such as * or storage.*) are not allowed: ${permission}`); // ours
    }
    if (!PUBSUB_PERMISSIONS.has(permission)) {
      // IAM's text for a bad permission in a custom role (terraform-provider-google#6762); that
      // testIamPermissions uses it too is unverified.
      throw new ApiError('INVALID_ARGUMENT', `Permission ${permission} is not valid.`);
    }
  }
  return [...new Set(requested)].filter((permission) => appliesTo(permission, kind) && granted(permission));
}
