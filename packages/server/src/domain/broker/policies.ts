/**
 * IAM policies on projects, topics and subscriptions: getIamPolicy, setIamPolicy (etag checked),
 * testIamPermissions, and the permission check the broker makes when a principal publishes
 * (users.watch publishes as gmail-api-push@system.gserviceaccount.com).
 */
import { ApiError, invalidArgument, resourceNotFound } from '../errors.ts';
import type { BrokerStore } from '../../storage/ports.ts';
import {
  checkEtag,
  emptyPolicy,
  isAllowed,
  nextEtag,
  testPermissions,
  toPolicyVersion,
  validatePolicy,
  type Policy,
  type ResourceKind,
} from './iam.ts';
import { invalidName, lastSegment, parseName, parseProject } from './names.ts';

export interface PolicyResource {
  name: string;
  kind: ResourceKind;
  project: string;
}

export function parsePolicyResource(resource: string): PolicyResource {
  const parts = resource.split('/');
  if (parts.length === 2) return { name: resource, kind: 'project', project: parseProject(resource) };
  if (parts.length === 4 && parts[2] === 'topics') return { name: resource, kind: 'topic', project: parseName(resource, 'topics').project };
  if (parts.length === 4 && parts[2] === 'subscriptions') {
    return { name: resource, kind: 'subscription', project: parseName(resource, 'subscriptions').project };
  }
  throw invalidName(resource);
}

export class Policies {
  readonly #store: BrokerStore;

  constructor(store: BrokerStore) {
    this.#store = store;
  }

  async get(resource: string, requestedVersion?: number): Promise<Policy> {
    const target = await this.#existing(resource);
    return toPolicyVersion(await this.#load(target.name), requestedVersion);
  }

  /** Replaces the policy (or the fields named by `updateMask`, of which only bindings/etag exist). */
  async set(resource: string, input: Record<string, unknown>): Promise<Policy> {
    const target = await this.#existing(resource);
    if (input === undefined || input === null || typeof input !== 'object') throw invalidArgument('A policy is required.');
    const body = validatePolicy(input, target.kind);
    const current = await this.#load(target.name);
    checkEtag(current, input.etag instanceof Buffer ? input.etag : undefined);
    const policy: Policy = { ...body, etag: nextEtag(current.etag) };
    await this.#store.setPolicy(target.name, policy);
    return policy;
  }

  async test(resource: string, permissions: readonly string[], member: string | null): Promise<string[]> {
    const target = await this.#existing(resource);
    const policies = await this.#effective(target);
    return testPermissions(permissions, (permission) => member === null || isAllowed(policies, member, permission), target.kind);
  }

  /** Throws PERMISSION_DENIED unless `member` holds `permission` on the resource or its project. */
  async check(resource: string, member: string, permission: string): Promise<void> {
    const policies = await this.#effective(parsePolicyResource(resource));
    if (!isAllowed(policies, member, permission)) {
      throw new ApiError('PERMISSION_DENIED', 'User not authorized to perform this action.');
    }
  }

  async #effective(target: PolicyResource): Promise<Policy[]> {
    const own = await this.#load(target.name);
    return target.kind === 'project' ? [own] : [own, await this.#load(`projects/${target.project}`)];
  }

  async #load(name: string): Promise<Policy> {
    const stored = await this.#store.getPolicy(name);
    return stored ? { version: stored.version, bindings: stored.bindings, etag: stored.etag } : emptyPolicy();
  }

  async #existing(resource: string): Promise<PolicyResource> {
    const target = parsePolicyResource(resource);
    const exists =
      target.kind === 'project' ||
      (target.kind === 'topic' ? (await this.#store.getTopic(target.name)) !== undefined : (await this.#store.getSubscription(target.name)) !== undefined);
    if (!exists) throw resourceNotFound(lastSegment(target.name));
    return target;
  }
}
