/**
 * Topic resources: what create accepts and what an update mask may change.
 * Topic retention is 10 minutes to 31 days (reference/pubsub.md, "Defaults and limits").
 */
import { DAY, MINUTE, durationMs } from '../duration.ts';
import { invalidArgument } from '../errors.ts';
import { invalidName, parseName } from './names.ts';
import type { Topic } from './types.ts';

const MIN_RETENTION = 10 * MINUTE;
const MAX_RETENTION = 31 * DAY;

/** Fields an UpdateTopicRequest may name (snake_case paths, as the decoder gives them). */
const MUTABLE = new Set([
  'labels',
  'message_retention_duration',
  'message_storage_policy',
  'kms_key_name',
  'schema_settings',
  'ingestion_data_source_settings',
  'message_transforms',
]);
const OUTPUT_ONLY = new Set(['state', 'satisfies_pzs']);

/** Validates a decoded Topic for creation under `name` (the name of the URL). */
export function normalizeTopic(name: string, input: Record<string, unknown>): Topic {
  parseName(name, 'topics');
  if (input.name !== undefined && input.name !== name) throw invalidName(String(input.name));
  const topic: Topic = { ...stripDefaults(input), name };
  for (const field of OUTPUT_ONLY) delete topic[camel(field)];
  validateTopic(topic);
  return topic;
}

/** The topic after an update; `paths` are snake_case field paths. */
export function applyTopicUpdate(current: Topic, patch: Record<string, unknown>, paths: readonly string[]): Topic {
  if (paths.length === 0) {
    throw invalidArgument('The update_mask in the UpdateTopicRequest must be set, and must contain a non-empty paths list.');
  }
  if (patch.name !== undefined && patch.name !== current.name) throw invalidName(String(patch.name));
  const next: Topic = { ...current };
  for (const path of paths) {
    const field = path.split('.')[0];
    if (!MUTABLE.has(field)) {
      throw invalidArgument(
        `Invalid update_mask provided in the UpdateTopicRequest: ${path} is not a known Topic field. Note that field paths must be of the form 'schema_settings' rather than 'schemaSettings'.`,
      );
    }
    const key = camel(field);
    const value = stripDefaults(patch)[key];
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  validateTopic(next);
  return next;
}

function validateTopic(topic: Topic): void {
  if (topic.messageRetentionDuration !== undefined) {
    const ms = durationMs(topic.messageRetentionDuration);
    if (ms < MIN_RETENTION || ms > MAX_RETENTION) {
      throw invalidArgument(
        `Invalid message_retention_duration given (message_retention_duration=${topic.messageRetentionDuration}). It must be between 10 minutes and 31 days.`,
      );
    }
  }
}

export const camel = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** proto3 JSON leaves out fields at their default value; the stored resource does too. */
export function stripDefaults<T extends Record<string, unknown>>(input: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || value === null || value === false || value === 0 || value === '') continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (key === 'labels' && typeof value === 'object' && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return out as T;
}
