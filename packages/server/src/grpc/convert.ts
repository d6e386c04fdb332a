/**
 * proto objects (as @grpc/proto-loader gives and takes them) <-> the domain's shapes, which
 * are those of proto3 JSON (what the REST decoder produces): Duration as "600s", Timestamp as
 * epoch ms on the way in and {seconds, nanos} out, FieldMask as snake_case paths, fields at
 * their default value absent. The walk follows Google's .proto types, so every Duration or
 * Timestamp field is found wherever it is nested.
 */
import protobuf from 'protobufjs';
import { durationMs } from '../domain/duration.ts';
import { loadProtoRoot } from '../protos.ts';

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !Array.isArray(value);

function type(name: string): protobuf.Type {
  return loadProtoRoot().lookupType(name);
}

const snake = (path: string): string => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A request message as the domain takes it. */
export function fromProto(typeName: string, value: unknown): Record<string, any> {
  return isObject(value) ? (convertIn(type(typeName), value) as Obj) : {};
}

function convertIn(t: protobuf.Type, value: Obj): unknown {
  switch (t.fullName) {
    case '.google.protobuf.Duration':
      return durationText(Number(value.seconds ?? 0), Number(value.nanos ?? 0));
    case '.google.protobuf.Timestamp':
      return Number(value.seconds ?? 0) * 1000 + Math.floor(Number(value.nanos ?? 0) / 1e6);
    case '.google.protobuf.FieldMask':
      return ((value.paths as string[] | undefined) ?? []).flatMap((p) => p.split(',')).map((p) => snake(p.trim())).filter(Boolean);
  }
  const out: Obj = {};
  for (const field of t.fieldsArray) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      if (field.map) {
        const map: Obj = {};
        for (const [k, item] of Object.entries(v as Obj)) map[k] = isObject(item) ? convertIn(resolved, item) : item;
        out[field.name] = map;
      } else if (field.repeated) {
        out[field.name] = (v as unknown[]).map((item) => (isObject(item) ? convertIn(resolved, item) : item));
      } else if (isObject(v)) {
        out[field.name] = convertIn(resolved, v);
      }
      continue;
    }
    if (isDefault(field, v)) continue;
    out[field.name] = field.type === 'int64' || field.type === 'uint64' ? Number(v) : v;
  }
  return out;
}

/** proto3 leaves fields at their default value unset; so does the domain. */
function isDefault(field: protobuf.Field, value: unknown): boolean {
  if (value === false || value === 0 || value === '') return true;
  if (Array.isArray(value) && value.length === 0) return true;
  if ((field.type === 'int64' || field.type === 'uint64') && value === '0') return true;
  const e = field.resolvedType;
  return e instanceof protobuf.Enum && value === Object.keys(e.values)[0];
}

function durationText(seconds: number, nanos: number): string {
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  const whole = Math.trunc(ms / 1000);
  const rest = Math.abs(ms % 1000);
  return rest === 0 ? `${whole}s` : `${whole}.${String(rest).padStart(3, '0')}s`;
}

/** A domain result as a proto object for the response of `typeName`. */
export function toProto(typeName: string, value: unknown): Obj {
  return isObject(value) ? (convertOut(type(typeName), value) as Obj) : {};
}

function convertOut(t: protobuf.Type, value: unknown): unknown {
  switch (t.fullName) {
    case '.google.protobuf.Duration': {
      const ms = typeof value === 'string' ? durationMs(value) : 0;
      return { seconds: String(Math.trunc(ms / 1000)), nanos: (ms % 1000) * 1e6 };
    }
    case '.google.protobuf.Timestamp': {
      const ms = typeof value === 'number' ? value : Date.parse(String(value));
      return { seconds: String(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
    }
  }
  if (!isObject(value)) return value;
  const out: Obj = {};
  for (const field of t.fieldsArray) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      if (field.map) {
        out[field.name] = Object.fromEntries(Object.entries(v as Obj).map(([k, item]) => [k, convertOut(resolved, item)]));
      } else if (field.repeated) {
        out[field.name] = (v as unknown[]).map((item) => convertOut(resolved, item));
      } else {
        out[field.name] = convertOut(resolved, v);
      }
      continue;
    }
    out[field.name] = v;
  }
  return out;
}
