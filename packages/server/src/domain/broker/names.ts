/**
 * Pub/Sub resource names: `projects/{project}/{collection}/{id}`.
 * Rules (reference/pubsub.md, "Defaults and limits"): the id starts with a letter, is 3-255
 * characters from [A-Za-z0-9-_.~+%], and does not start with "goog".
 */
import { ApiError } from '../errors.ts';

export type Collection = 'topics' | 'subscriptions' | 'snapshots';

export interface ResourceName {
  project: string;
  collection: Collection;
  id: string;
  /** The full name, `projects/p/topics/t`. */
  name: string;
}

const ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
// Project ids are 6-30 lowercase letters, digits and hyphens in production, but emulator users
// (and Google's own samples) use ids like "p" or "test-project"; accept any non-empty id without '/'.
const PROJECT = /^[^/\s]{1,100}$/;

/** The production message, e.g. homebridge-google-nest-sdm#4. */
export function invalidName(name: string): ApiError {
  return new ApiError(
    'INVALID_ARGUMENT',
    `Invalid resource name given (name=${name}). Refer to https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names for more information.`,
  );
}

export function isValidId(id: string): boolean {
  return ID.test(id) && !id.toLowerCase().startsWith('goog');
}

/** Parses and validates a full resource name of the given collection. */
export function parseName(name: unknown, collection: Collection): ResourceName {
  if (typeof name !== 'string') throw invalidName(String(name ?? ''));
  const parts = name.split('/');
  if (parts.length !== 4 || parts[0] !== 'projects' || parts[2] !== collection) throw invalidName(name);
  const [, project, , id] = parts;
  if (!PROJECT.test(project) || !isValidId(id)) throw invalidName(name);
  return { project, collection, id, name };
}

export function parseProject(name: unknown): string {
  if (typeof name !== 'string') throw invalidName(String(name ?? ''));
  const parts = name.split('/');
  if (parts.length !== 2 || parts[0] !== 'projects' || !PROJECT.test(parts[1])) throw invalidName(name);
  return parts[1];
}

/** The topic a subscription points at after its topic was deleted (Google's sentinel). */
export const DELETED_TOPIC = '_deleted-topic_';

export function lastSegment(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}
