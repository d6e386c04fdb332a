/**
 * proto3 JSON request bodies, read against Google's own .proto files and refused with the
 * texts of Google's REST front end (ESF).
 *
 * ESF's texts are those of protobuf's JSON converter (src/google/protobuf/util/internal/ in
 * protobuf 3.x: json_stream_parser.cc, protostream_objectwriter.cc, proto_writer.cc,
 * datapiece.cc, field_mask_utility.cc), so this file follows that code's behaviour, and the
 * wording was checked against answers users quoted from production:
 * - `Invalid JSON payload received. Unknown name "thinking": Cannot find field.` (no location at
 *   the root; decolua/9router#1876) and `... Unknown name "id" at
 *   'contents[7].parts[0].function_response': Cannot find field.` (google-gemini/gemini-cli#13972):
 *   the name as sent, the location in proto (snake_case) names with `[i]` for list items.
 * - Map entries are located by their ordinal, then `.key`/`.value`:
 *   `... at 'tools[0].function_declarations[0].parameters.properties[3].value'` (danny-avila/LibreChat#11761).
 * - A list on a field that is not repeated: `Unknown name "text" at 'contents[0].parts[0]': Proto
 *   field is not repeating, cannot start list.` (zed-industries/zed#53919), located at the parent.
 * - `Invalid value at 'contents[3].parts[0].thought_signature' (TYPE_BYTES), Base64 decoding failed
 *   for "CiQB..."` (google-gemini/gemini-cli#8003).
 * - Numbers are not quoted, strings are: `Invalid value at '...enum[0]' (TYPE_STRING), 1`
 *   (google-gemini/gemini-cli#4120); every problem is reported, one per line, in one 400.
 * - `Invalid value at 'interval.start_time' (type.googleapis.com/google.protobuf.Timestamp), Field
 *   'start_time', Illegal timestamp format; timestamps must end with 'Z' or have a valid timezone
 *   offset.` (cloud-custodian/cloud-custodian#7629).
 * - `Invalid JSON payload received. Expected , or } after key:value pair.\n<text>\n<caret>`
 *   (googlecodelabs/feedback#441): 20 bytes of context either side of the parser, a caret under it.
 * - `Invalid JSON payload received. Unknown name "": Root element must be a message.`
 *   (google-wallet/rest-samples#22).
 * Texts seen only in public code quoting Google, not in an issue thread: `Invalid value at
 * 'aggregate_by[0]' (data_type_name), Starting an object on a scalar field` (the proto name, at the
 * parent; at the root Gmail answers `Invalid value (add_label_ids), ...`), `Invalid value at
 * 'message' (Map), Cannot bind a list to map for field 'data'.` (FCM), `Invalid value at
 * 'generation_config.seed' (TYPE_INT32), 3812238859`.
 *
 * Where the converter and the brief of this module differ, the converter wins when the domain can
 * still get its conventional value: a repeated field given one value (or an object) takes it as a
 * one-item list, `null` items of lists are dropped, booleans also accept "true"/"yes"/"1"/"t"...
 * (safe_strtob), enum names match without regard to case. Unknown enum numbers, which ESF passes
 * on, are refused here because the domain only knows enum values by name.
 */
import protobuf from 'protobufjs';
import { ApiError } from '../domain/errors.ts';
import { loadProtoRoot } from '../protos.ts';

export interface DecodeOptions {
  /** field path prefix for messages, e.g. 'subscription' when the body is the Subscription of a PUT */
  path?: string;
}

// ---------------------------------------------------------------------------------------------
// JSON text
// ---------------------------------------------------------------------------------------------

const MAX_OBJECT_DEPTH = 100;

/**
 * Parses a request body as ESF does. Standard JSON goes through JSON.parse; anything else goes
 * through a port of protobuf's JsonStreamParser, which also accepts single quotes, bare keys and
 * trailing commas, keeps integers beyond 2^53 exactly (as bigint) and words its refusals like
 * Google. An empty body is `{}`.
 */
export function parseJsonBody(text: string): unknown {
  if (/^[ \t\n\v\f\r]*$/.test(text)) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return new JsonTextParser(text).parse();
  }
  return readsAlike(value, text.includes('\\u')) ? value : new JsonTextParser(text).parse();
}

const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * Whether JSON.parse read the text as ESF does: objects nested at most 100 deep, no integer
 * beyond 2^53 (rounded), no number out of range (Infinity), no lone surrogate from a \u escape.
 */
function readsAlike(value: unknown, escapes: boolean): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) return false;
    } else if (typeof v === 'string') {
      if (escapes && !wellFormed(v)) return false;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push([item, depth]);
    } else if (v !== null && typeof v === 'object') {
      if (depth + 1 > MAX_OBJECT_DEPTH) return false;
      for (const key of Object.keys(v)) {
        if (escapes && !wellFormed(key)) return false;
        stack.push([(v as Record<string, unknown>)[key], depth + 1]);
      }
    }
  }
  return true;
}

// Parse states and tokens of JsonStreamParser.
const VALUE = 0, OBJ_MID = 1, ENTRY = 2, ENTRY_MID = 3, ARRAY_VALUE = 4, ARRAY_MID = 5;
const T_STRING = 0, T_NUMBER = 1, T_TRUE = 2, T_FALSE = 3, T_NULL = 4, T_OBJECT = 5, T_END_OBJECT = 6,
  T_ARRAY = 7, T_END_ARRAY = 8, T_COLON = 9, T_COMMA = 10, T_KEY = 11, T_UNKNOWN = 12;
const OK = 0, CANCELLED = 1;
type Result = typeof OK | typeof CANCELLED;

class JsonSyntaxError extends Error {}

/** \b \f \n \r \t \v; any other escaped character stands for itself. */
const ESCAPES: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isLetter = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const hexValue = (c: number): number =>
  isDigit(c) ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

/**
 * A port of protobuf's JsonStreamParser, fed the whole body as one chunk and then finished, as
 * ESF does: a parse that stops at the end of the input is resumed in "finishing" mode from where
 * it stopped, which is why the context of such errors starts there.
 */
class JsonTextParser {
  private readonly bytes: Buffer;
  private p = 0;
  private chunkStart = 0;
  private finishing = false;
  private readonly stack: number[] = [VALUE];
  private stringOpen = 0;
  private parsed: number[] = [];
  private key: string | null = null;
  private depth = 0;
  private readonly containers: Array<Record<string, unknown> | unknown[]> = [];
  private root: unknown = undefined;

  constructor(text: string) {
    this.bytes = Buffer.from(text, 'utf8');
  }

  parse(): unknown {
    try {
      this.runParser();
      this.skipWhitespace();
      const end = this.bytes.length;
      if (this.p < end && this.stack.length === 0) this.fail('Parsing terminated before end of input.');
      if (this.stack.length > 0 || this.p < end) {
        this.chunkStart = this.p;
        this.finishing = true;
        this.runParser();
        this.skipWhitespace();
        if (this.p < end) this.fail('Parsing terminated before end of input.');
      }
      return this.root;
    } catch (error) {
      if (error instanceof JsonSyntaxError) {
        throw new ApiError('INVALID_ARGUMENT', `Invalid JSON payload received. ${error.message}`);
      }
      throw error;
    }
  }

  private runParser(): void {
    while (this.stack.length) {
      const type = this.stack[this.stack.length - 1];
      const token = this.stringOpen === 0 ? this.nextToken() : T_STRING;
      this.stack.pop();
      let r: Result;
      switch (type) {
        case VALUE: r = this.parseValue(token); break;
        case OBJ_MID: r = this.parseObjectMid(token); break;
        case ENTRY: r = this.parseEntry(token); break;
        case ENTRY_MID: r = this.parseEntryMid(token); break;
        case ARRAY_VALUE: r = this.parseArrayValue(token); break;
        default: r = this.parseArrayMid(token);
      }
      if (r === CANCELLED) {
        this.stack.push(type);
        return;
      }
    }
  }

  private fail(message: string): never {
    const begin = Math.max(this.p - 20, this.chunkStart);
    const end = Math.min(this.p + 20, this.bytes.length);
    const segment = this.bytes.subarray(begin, end).toString('utf8');
    throw new JsonSyntaxError(`${message}\n${segment}\n${' '.repeat(this.p - begin)}^`);
  }

  private unknown(message: string): Result {
    if (!this.finishing) return CANCELLED;
    this.fail(this.p >= this.bytes.length ? `Unexpected end of string. ${message}` : message);
  }

  private skipWhitespace(): void {
    while (this.p < this.bytes.length && isSpace(this.bytes[this.p])) this.p++;
  }

  private startsWith(word: string): boolean {
    if (this.bytes.length - this.p < word.length) return false;
    for (let i = 0; i < word.length; i++) if (this.bytes[this.p + i] !== word.charCodeAt(i)) return false;
    return true;
  }

  private nextToken(): number {
    this.skipWhitespace();
    if (this.p >= this.bytes.length) return T_UNKNOWN;
    const c = this.bytes[this.p];
    if (c === 34 || c === 39) return T_STRING;
    if (c === 45 || isDigit(c)) return T_NUMBER;
    if (this.startsWith('true')) return T_TRUE;
    if (this.startsWith('false')) return T_FALSE;
    if (this.startsWith('null')) return T_NULL;
    switch (c) {
      case 123: return T_OBJECT;
      case 125: return T_END_OBJECT;
      case 91: return T_ARRAY;
      case 93: return T_END_ARRAY;
      case 58: return T_COLON;
      case 44: return T_COMMA;
    }
    return isLetter(c) ? T_KEY : T_UNKNOWN;
  }

  private emit(value: unknown): void {
    const top = this.containers[this.containers.length - 1];
    if (top === undefined) this.root = value;
    else if (Array.isArray(top)) top.push(value);
    else setKey(top, this.key ?? '', value);
    this.key = null;
  }

  private parseValue(token: number): Result {
    switch (token) {
      case T_OBJECT: {
        this.p++;
        const object: Record<string, unknown> = {};
        const key = this.key;
        this.emit(object);
        this.containers.push(object);
        if (++this.depth > MAX_OBJECT_DEPTH) {
          throw new JsonSyntaxError(`Message too deep. Max recursion depth reached for key '${key ?? ''}'`);
        }
        this.stack.push(ENTRY);
        return OK;
      }
      case T_ARRAY: {
        this.p++;
        const list: unknown[] = [];
        this.emit(list);
        this.containers.push(list);
        this.stack.push(ARRAY_VALUE);
        return OK;
      }
      case T_STRING: {
        const r = this.parseString();
        if (r === OK) this.emit(this.takeString());
        return r;
      }
      case T_NUMBER: return this.parseNumber();
      case T_TRUE: this.p += 4; this.emit(true); return OK;
      case T_FALSE: this.p += 5; this.emit(false); return OK;
      case T_NULL: this.p += 4; this.emit(null); return OK;
      case T_UNKNOWN: return this.unknown('Expected a value.');
      default:
        if (!this.finishing && this.bytes.length - this.p < 5) return CANCELLED;
        this.fail('Unexpected token.');
    }
  }

  private takeString(): string {
    const text = Buffer.from(this.parsed).toString('utf8');
    this.parsed = [];
    return text;
  }

  private append(from: number, to: number): void {
    for (let i = from; i < to; i++) this.parsed.push(this.bytes[i]);
  }

  private parseString(): Result {
    const bytes = this.bytes;
    if (this.stringOpen === 0) this.stringOpen = bytes[this.p++];
    let last = this.p;
    while (this.p < bytes.length) {
      const c = bytes[this.p];
      if (c === 92) {
        this.append(last, this.p);
        if (bytes.length - this.p === 1) {
          if (!this.finishing) return CANCELLED;
          this.fail('Closing quote expected in string.');
        }
        const next = bytes[this.p + 1];
        if (next === 117) {
          const r = this.parseUnicodeEscape();
          if (r !== OK) return r;
        } else {
          this.parsed.push(ESCAPES[next] ?? next);
          this.p += 2;
        }
        last = this.p;
        continue;
      }
      if (c === this.stringOpen) {
        this.append(last, this.p);
        this.stringOpen = 0;
        this.p++;
        return OK;
      }
      this.p++;
    }
    this.append(last, this.p);
    if (!this.finishing) return CANCELLED;
    this.stringOpen = 0;
    this.fail('Closing quote expected in string.');
  }

  private hex4(at: number): number {
    let code = 0;
    for (let i = at; i < at + 4; i++) {
      const h = hexValue(this.bytes[i]);
      if (h < 0) this.fail('Invalid escape sequence.');
      code = code * 16 + h;
    }
    return code;
  }

  private parseUnicodeEscape(): Result {
    const left = this.bytes.length - this.p;
    if (left < 6) {
      if (!this.finishing) return CANCELLED;
      this.fail('Illegal hex string.');
    }
    let code = this.hex4(this.p + 2);
    if (code >= 0xd800 && code <= 0xdbff) {
      if (left < 12) {
        if (!this.finishing) return CANCELLED;
        this.fail('Missing low surrogate.');
      }
      if (this.bytes[this.p + 6] !== 92 || this.bytes[this.p + 7] !== 117) this.fail('Missing low surrogate.');
      const low = this.hex4(this.p + 8);
      if (low < 0xdc00 || low > 0xdfff) this.fail('Invalid low surrogate.');
      code = ((code & 0x3ff) << 10 | (low & 0x3ff)) + 0x10000;
      this.p += 6;
    }
    if (code >= 0xd800 && code <= 0xdfff) this.fail('Invalid unicode code point.');
    for (const byte of Buffer.from(String.fromCodePoint(code), 'utf8')) this.parsed.push(byte);
    this.p += 6;
    return OK;
  }

  private parseNumber(): Result {
    const bytes = this.bytes;
    let index = this.p;
    let floating = false;
    for (; index < bytes.length; index++) {
      const c = bytes[index];
      if (isDigit(c) || c === 43 || c === 45 || c === 120) continue;
      if (c === 46 || c === 101 || c === 69) { floating = true; continue; }
      break;
    }
    if (index === bytes.length && !this.finishing) return CANCELLED;
    const text = bytes.toString('latin1', this.p, index);
    let value: number | bigint | undefined;
    if (!floating) {
      const negative = text[0] === '-';
      if ((!negative && text.length >= 2 && text[0] === '0') || (negative && text.length >= 3 && text[1] === '0')) {
        this.fail('Octal/hex numbers are not valid JSON values.');
      }
      if (/^-?\d+$/.test(text)) {
        const n = BigInt(text);
        if (negative ? n >= -(2n ** 63n) : n < 2n ** 64n) value = Number.isSafeInteger(Number(n)) ? Number(n) : n;
      }
    }
    if (value === undefined) {
      const d = strtod(text);
      if (d === undefined) this.fail('Unable to parse number.');
      if (!Number.isFinite(d)) this.fail('Number exceeds the range of double.');
      value = d;
    }
    this.p = index;
    this.emit(value);
    return OK;
  }

  private parseObjectMid(token: number): Result {
    if (token === T_UNKNOWN) return this.unknown('Expected , or } after key:value pair.');
    if (token === T_END_OBJECT) {
      this.p++;
      this.containers.pop();
      this.depth--;
      return OK;
    }
    if (token === T_COMMA) {
      this.p++;
      this.stack.push(ENTRY);
      return OK;
    }
    this.fail('Expected , or } after key:value pair.');
  }

  private parseEntry(token: number): Result {
    if (token === T_UNKNOWN) return this.unknown('Expected an object key or }.');
    if (token === T_END_OBJECT) {
      this.p++;
      this.containers.pop();
      this.depth--;
      return OK;
    }
    let r: Result;
    if (token === T_STRING) {
      r = this.parseString();
      if (r === OK) this.key = this.takeString();
    } else if (token === T_KEY || token === T_NULL || token === T_TRUE || token === T_FALSE) {
      r = this.parseBareKey();
      if (r === OK && token !== T_KEY && (this.key === 'null' || this.key === 'true' || this.key === 'false')) {
        this.fail('Expected an object key or }.');
      }
    } else {
      this.fail('Expected an object key or }.');
    }
    if (r === OK) this.stack.push(OBJ_MID, ENTRY_MID);
    return r;
  }

  private parseBareKey(): Result {
    const bytes = this.bytes;
    if (this.p >= bytes.length || !isLetter(bytes[this.p])) this.fail('Invalid key or variable name.');
    let end = this.p + 1;
    while (end < bytes.length && (isLetter(bytes[end]) || isDigit(bytes[end]))) end++;
    if (!this.finishing && end === bytes.length) return CANCELLED;
    this.key = bytes.toString('latin1', this.p, end);
    this.p = end;
    return OK;
  }

  private parseEntryMid(token: number): Result {
    if (token === T_UNKNOWN) return this.unknown('Expected : between key:value pair.');
    if (token !== T_COLON) this.fail('Expected : between key:value pair.');
    this.p++;
    this.stack.push(VALUE);
    return OK;
  }

  private parseArrayValue(token: number): Result {
    if (token === T_UNKNOWN) return this.unknown('Expected a value or ] within an array.');
    if (token === T_END_ARRAY) {
      this.p++;
      this.containers.pop();
      return OK;
    }
    this.stack.push(ARRAY_MID);
    const r = this.parseValue(token);
    if (r === CANCELLED) this.stack.pop();
    return r;
  }

  private parseArrayMid(token: number): Result {
    if (token === T_UNKNOWN) return this.unknown('Expected , or ] after array value.');
    if (token === T_END_ARRAY) {
      this.p++;
      this.containers.pop();
      return OK;
    }
    if (token !== T_COMMA) this.fail('Expected , or ] after array value.');
    this.p++;
    this.stack.push(ARRAY_VALUE);
    return OK;
  }
}

/** C's strtod on the whole text (decimal or hexadecimal), or undefined where it stops short. */
function strtod(text: string): number | undefined {
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return Number(text);
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?$/.exec(text);
  if (!hex || hex[2] + (hex[3] ?? '') === '') return undefined;
  const fraction = hex[3] ?? '';
  const value = parseInt(hex[2] + fraction || '0', 16) / 16 ** fraction.length;
  return hex[1] === '-' ? -value : value;
}

/** Sets an own property, even one named `__proto__`. */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// Schema: protobufjs reflection, reduced to what decoding needs
// ---------------------------------------------------------------------------------------------

type Scalar =
  | 'double' | 'float' | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32'
  | 'int64' | 'uint64' | 'sint64' | 'fixed64' | 'sfixed64' | 'bool' | 'string' | 'bytes';

const KIND_NAME: Record<Scalar, string> = {
  double: 'TYPE_DOUBLE', float: 'TYPE_FLOAT', int64: 'TYPE_INT64', uint64: 'TYPE_UINT64',
  int32: 'TYPE_INT32', fixed64: 'TYPE_FIXED64', fixed32: 'TYPE_FIXED32', bool: 'TYPE_BOOL',
  string: 'TYPE_STRING', bytes: 'TYPE_BYTES', uint32: 'TYPE_UINT32', sfixed32: 'TYPE_SFIXED32',
  sfixed64: 'TYPE_SFIXED64', sint32: 'TYPE_SINT32', sint64: 'TYPE_SINT64',
};

/** Well-known types with a JSON form of their own. */
type WellKnown = 'Timestamp' | 'Duration' | 'FieldMask' | 'Struct' | 'Value' | 'ListValue' | 'Any';
const WELL_KNOWN = new Set<string>(['Timestamp', 'Duration', 'FieldMask', 'Struct', 'Value', 'ListValue', 'Any']);

interface FieldInfo {
  /** The proto name (snake_case): locations and "Starting an object" texts use it. */
  name: string;
  /** The output key: protobufjs's camelCase name. */
  json: string;
  /** Repeated or map: the converter treats both as lists. */
  repeated: boolean;
  scalar?: Scalar;
  enumType?: protobuf.Enum;
  messageType?: protobuf.Type;
  map?: { key: FieldInfo; value: FieldInfo };
  wellKnown?: WellKnown;
  /** The proto name of the (real, not proto3-optional) oneof holding this field. */
  oneof?: string;
  /** How "Invalid value" texts name the type: TYPE_INT32 or a type URL. */
  typeName: string;
}

interface MessageInfo {
  fullName: string;
  fields: Map<string, FieldInfo>;
}

const snakeName = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const lowerCamel = (snake: string): string => snake.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
const typeUrl = (type: protobuf.ReflectionObject): string => `type.googleapis.com/${type.fullName.slice(1)}`;

function valueInfo(name: string, json: string, type: string, resolved: protobuf.ReflectionObject | null): FieldInfo {
  if (resolved instanceof protobuf.Enum) return { name, json, repeated: false, enumType: resolved, typeName: typeUrl(resolved) };
  if (resolved instanceof protobuf.Type) {
    const full = resolved.fullName;
    const short = full.slice('.google.protobuf.'.length);
    const wellKnown = full.startsWith('.google.protobuf.') && WELL_KNOWN.has(short) ? (short as WellKnown) : undefined;
    return { name, json, repeated: false, messageType: resolved, wellKnown, typeName: typeUrl(resolved) };
  }
  const scalar = type as Scalar;
  return { name, json, repeated: false, scalar, typeName: KIND_NAME[scalar] };
}

const messages = new Map<protobuf.Type, MessageInfo>();

function messageInfo(type: protobuf.Type): MessageInfo {
  let info = messages.get(type);
  if (info) return info;
  info = { fullName: type.fullName.slice(1), fields: new Map() };
  messages.set(type, info);
  for (const field of type.fieldsArray) {
    const name = snakeName(field.name);
    let fi: FieldInfo;
    if (field instanceof protobuf.MapField) {
      const entry = name.replace(/(?:^|_)(.)/g, (_, c: string) => c.toUpperCase());
      fi = {
        name, json: field.name, repeated: true,
        map: {
          key: valueInfo('key', 'key', field.keyType, null),
          value: valueInfo('value', 'value', field.type, field.resolvedType),
        },
        typeName: `type.googleapis.com/${info.fullName}.${entry}Entry`,
      };
    } else {
      fi = { ...valueInfo(name, field.name, field.type, field.resolvedType), repeated: field.repeated };
    }
    const oneof = field.partOf;
    if (oneof && !(oneof.oneof.length === 1 && oneof.name.startsWith('_'))) fi.oneof = snakeName(oneof.name);
    info.fields.set(name, fi);
    info.fields.set(field.name, fi);
    info.fields.set(lowerCamel(name), fi);
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Values (DataPiece): one JSON value converted to one field's type
// ---------------------------------------------------------------------------------------------

const FAIL = Symbol('invalid');
type Converted = unknown;
/** The text of the last FAIL; set by fail() just before a conversion returns FAIL. */
let failure = '';
function fail(text: string): typeof FAIL {
  failure = text;
  return FAIL;
}

/** `%.15g`, or `%.17g` when that does not read back: protobuf's SimpleDtoa. */
function simpleDtoa(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  const g = (precision: number): string => {
    if (v === 0) return Object.is(v, -0) ? '-0' : '0';
    const [mantissa, exp] = v.toExponential(precision - 1).split('e');
    const e = Number(exp);
    const trim = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
    if (e < -4 || e >= precision) return `${trim(mantissa)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    return trim(v.toFixed(Math.max(0, precision - 1 - e)));
  };
  const short = g(15);
  return Number(short) === v ? short : g(17);
}

/** How the converter prints a value it refuses: strings quoted, raw; numbers as numbers. */
function valueText(v: unknown): string {
  switch (typeof v) {
    case 'string': return `"${v}"`;
    case 'boolean': return String(v);
    case 'bigint': return String(v);
    case 'number': return Number.isSafeInteger(v) ? String(v === 0 ? 0 : v) : simpleDtoa(v);
    default: return v == null ? 'null' : '';
  }
}

const trimOtherSpace = (s: string): string => s.replace(/^[\t\n\v\f\r]+|[\t\n\v\f\r]+$/g, '');
const hasEdgeSpace = (s: string): boolean => s.length > 0 && (s[0] === ' ' || s[s.length - 1] === ' ');

const RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** An integer of `range` (int32 ... uint64): numbers for 32 bits, decimal strings for 64. */
function toInteger(v: unknown, range: 'int32' | 'uint32' | 'int64' | 'uint64'): Converted {
  const [min, max] = RANGES[range];
  const wide = range === 'int64' || range === 'uint64';
  let n: bigint;
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) {
      if (v < Number(min) || v > Number(max)) return fail(String(v));
      return wide ? String(v === 0 ? 0 : v) : v === 0 ? 0 : v;
    }
    if (!Number.isInteger(v)) return fail(simpleDtoa(v));
    n = BigInt(v);
    if (n < min || n > max) return fail(simpleDtoa(v));
  } else if (typeof v === 'bigint') {
    n = v;
    if (n < min || n > max) return fail(String(v));
  } else if (typeof v === 'string') {
    const t = trimOtherSpace(v);
    if (hasEdgeSpace(v) || !/^[+-]?\d+$/.test(t) || (min === 0n && t[0] === '-')) return fail(`"${v}"`);
    n = BigInt(t);
    if (n < min || n > max) return fail(`"${v}"`);
  } else {
    return fail(valueText(v));
  }
  return wide ? n.toString() : Number(n);
}

const FLOAT_MAX = 3.4028234663852886e38;

function toDouble(v: unknown, float: boolean): Converted {
  if (typeof v === 'number') return float && Math.abs(v) > FLOAT_MAX ? fail(simpleDtoa(v)) : v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'string') return fail(valueText(v));
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === 'NaN') return NaN;
  const d = hasEdgeSpace(v) ? undefined : strtod(trimOtherSpace(v));
  if (d === undefined || !Number.isFinite(d) || (float && Math.abs(d) > FLOAT_MAX)) return fail(`"${v}"`);
  return d;
}

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);

function toBool(v: unknown): Converted {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return fail(valueText(v));
  const word = v.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return fail(`"${v}"`);
}

/**
 * Base64 as protobuf's Base64Unescape reads it: the URL-safe or the standard alphabet (not a mix),
 * whitespace ignored, no padding or exactly the padding that completes the last quantum.
 */
function decodeBase64(text: string): Buffer | undefined {
  const s = /[\t\n\v\f\r ]/.test(text) ? text.replace(/[\t\n\v\f\r ]/g, '') : text;
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  const padding = s.length - end;
  const rest = end % 4;
  if (rest === 1 || (padding !== 0 && padding !== (4 - rest) % 4)) return undefined;
  if ((s.includes('+') || s.includes('/')) && (s.includes('-') || s.includes('_'))) return undefined;
  // Node's decoder takes both alphabets and skips anything else (it stops at a '='), so a
  // character outside them shows as a shorter result: floor(3n/4) drops with every one skipped.
  const bytes = Buffer.from(padding ? s.slice(0, end) : s, 'base64');
  return bytes.length === Math.floor((end * 3) / 4) ? bytes : undefined;
}

function toBytes(v: unknown): Converted {
  if (typeof v !== 'string') return fail(valueText(v));
  return decodeBase64(v) ?? fail(`Base64 decoding failed for "${v}"`);
}

/** An enum value name from its name (in any case) or its number, as a number or a string. */
function toEnum(type: protobuf.Enum, v: unknown): Converted {
  if (typeof v === 'string') {
    if (Object.hasOwn(type.values, v)) return v;
    const number = toInteger(v, 'int32');
    if (number !== FAIL && type.valuesById[number as number] !== undefined) return type.valuesById[number as number];
    const normalized = v.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/-/g, '_');
    if (Object.hasOwn(type.values, normalized)) return normalized;
    return fail(`"${v}"`);
  }
  const number = toInteger(v, 'int32');
  if (number === FAIL) return FAIL;
  // ESF would pass an undeclared number on; the domain knows enum values only by name.
  return type.valuesById[number as number] ?? fail(String(number));
}

function toScalar(f: FieldInfo, v: unknown): Converted {
  if (f.enumType) return toEnum(f.enumType, v);
  switch (f.scalar) {
    case 'string': return typeof v === 'string' ? v : fail(valueText(v));
    case 'bytes': return toBytes(v);
    case 'bool': return toBool(v);
    case 'double': return toDouble(v, false);
    case 'float': return toDouble(v, true);
    case 'int32': case 'sint32': case 'sfixed32': return toInteger(v, 'int32');
    case 'uint32': case 'fixed32': return toInteger(v, 'uint32');
    case 'int64': case 'sint64': case 'sfixed64': return toInteger(v, 'int64');
    default: return toInteger(v, 'uint64');
  }
}

/** What an empty object leaves in a scalar map value: the type's default. */
function scalarDefault(f: FieldInfo): unknown {
  if (f.enumType) return f.enumType.valuesById[0] ?? Object.keys(f.enumType.values)[0];
  switch (f.scalar) {
    case 'string': return '';
    case 'bytes': return Buffer.alloc(0);
    case 'bool': return false;
    case 'int64': case 'sint64': case 'sfixed64': case 'uint64': case 'fixed64': return '0';
    default: return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Well-known types
// ---------------------------------------------------------------------------------------------

const TIMESTAMP_MIN = -62135596800; // 0001-01-01T00:00:00Z
const TIMESTAMP_MAX = 253402300799; // 9999-12-31T23:59:59Z
const DURATION_MAX = 315576000000;

/** 0, 3, 6 or 9 fraction digits, as proto3 JSON writes them. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  return `.${digits.endsWith('000000') ? digits.slice(0, 3) : digits.endsWith('000') ? digits.slice(0, 6) : digits}`;
}

function formatTimestamp(seconds: number, nanos: number): string | undefined {
  if (seconds < TIMESTAMP_MIN || seconds > TIMESTAMP_MAX || nanos < 0 || nanos > 999_999_999) return undefined;
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `${fraction(nanos)}Z`);
}

function formatDuration(seconds: number, nanos: number): string | undefined {
  if (Math.abs(seconds) > DURATION_MAX || Math.abs(nanos) > 999_999_999 || (seconds !== 0 && nanos !== 0 && Math.sign(seconds) !== Math.sign(nanos))) {
    return undefined;
  }
  const negative = seconds < 0 || nanos < 0;
  return `${negative ? '-' : ''}${Math.abs(seconds)}${fraction(Math.abs(nanos))}s`;
}

const TIMESTAMP = /^(\d+)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|([+-])(\d\d):(\d\d))$/;

function toTimestamp(v: unknown): Converted {
  if (typeof v !== 'string') return fail(`Invalid data type for timestamp, value is ${valueText(v)}`);
  if (!v.endsWith('Z') && !/[+-]\d\d:\d\d$/.test(v)) {
    return fail("Illegal timestamp format; timestamps must end with 'Z' or have a valid timezone offset.");
  }
  const m = TIMESTAMP.exec(v);
  if (!m) return fail('Invalid time format: Failed to parse input');
  const [, year, month, day, hour, minute, second, nanos = '', sign, offsetHours, offsetMinutes] = m;
  if (year.length > 4 || Number(year) === 0 || nanos.length > 9) return fail('Timestamp value exceeds limits');
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second));
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day) || date.getUTCHours() !== Number(hour)
    || date.getUTCMinutes() !== Number(minute) || date.getUTCSeconds() !== Number(second)
    || (sign && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59))) {
    return fail('Invalid time format: Failed to parse input');
  }
  const offset = sign ? (sign === '-' ? 1 : -1) * (Number(offsetHours) * 3600 + Number(offsetMinutes) * 60) : 0;
  return formatTimestamp(date.getTime() / 1000 + offset, Number(nanos.padEnd(9, '0'))) ?? fail('Timestamp value exceeds limits');
}

function toDuration(v: unknown): Converted {
  if (typeof v !== 'string') return fail(`Invalid data type for duration, value is ${valueText(v)}`);
  if (!v.endsWith('s')) return fail("Illegal duration format; duration must end with 's'");
  const negative = v.startsWith('-');
  const body = v.slice(negative ? 1 : 0, -1);
  const dot = body.lastIndexOf('.');
  const secs = dot < 0 ? body : body.slice(0, dot);
  const nanos = dot < 0 ? '' : body.slice(dot + 1);
  if (!/^\d+$/.test(secs)) return fail('Invalid duration format, failed to parse seconds');
  if (dot >= 0 && !/^\d{1,9}$/.test(nanos)) return fail('Invalid duration format, failed to parse nano seconds');
  const seconds = Number(secs);
  if (seconds > DURATION_MAX) return fail('Duration value exceeds limits');
  const n = Number(nanos.padEnd(9, '0'));
  return formatDuration(negative ? -seconds : seconds, negative ? -n : n)!;
}

/** protobuf's ToSnakeCase: "ackDeadlineSeconds" -> "ack_deadline_seconds", "GoogleLAB" -> "google_lab". */
function toSnakeCase(input: string): string {
  let result = '';
  let wasNotUnderscore = false;
  let wasNotCap = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c >= 'A' && c <= 'Z') {
      const nextLower = i + 1 < input.length && input[i + 1] >= 'a' && input[i + 1] <= 'z';
      if (wasNotUnderscore && (wasNotCap || nextLower)) result += '_';
      result += c.toLowerCase();
      wasNotUnderscore = true;
      wasNotCap = false;
    } else {
      result += c;
      wasNotUnderscore = c !== '_';
      wasNotCap = true;
    }
  }
  return result;
}

/** protobuf's ConvertFieldMaskPath: converts each segment, leaves quoted map keys alone. */
function snakePath(path: string): string {
  let result = '';
  let quoted = false;
  let escaping = false;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (quoted) {
      if (i === path.length) break;
      result += path[i];
      if (escaping) escaping = false;
      else if (path[i] === '\\') escaping = true;
      else if (path[i] === '"') { start = i + 1; quoted = false; }
      continue;
    }
    const c = path[i];
    if (i === path.length || c === '.' || c === '(' || c === ')' || c === '"') {
      result += toSnakeCase(path.slice(start, i));
      if (i < path.length) result += c;
      start = i + 1;
    }
    if (c === '"') quoted = true;
  }
  return result;
}

/** protobuf's DecodeCompactFieldMaskPaths: "a,b(c,d)" -> a, b.c, b.d; snake_cased. */
function toFieldMask(v: unknown): Converted {
  if (typeof v !== 'string') return fail(`Invalid data type for field mask, value is ${valueText(v)}`);
  const invalid = (why: string): typeof FAIL => fail(`Invalid FieldMask '${v}'. ${why}`);
  const paths: string[] = [];
  const prefix: string[] = [];
  const join = (head: string, segment: string): string =>
    !head ? segment : !segment ? head : segment.startsWith('["') ? head + segment : `${head}.${segment}`;
  let previous = 0;
  let inKey = false;
  let escaping = false;
  for (let i = 0; i <= v.length; i++) {
    if (i !== v.length) {
      const c = v[i];
      if (inKey) {
        if (escaping) { escaping = false; continue; }
        if (c === '\\') { escaping = true; continue; }
        if (c !== '"') continue;
        if (i >= v.length - 1 || v[i + 1] !== ']') return invalid('Map keys should be represented as ["some_key"].');
        inKey = false;
        i++;
        if (i < v.length - 1 && !'.,()'.includes(v[i + 1])) return invalid('Map keys should be at the end of a path segment.');
        continue;
      }
      if (c === '[') {
        if (i >= v.length - 1 || v[i + 1] !== '"') return invalid('Map keys should be represented as ["some_key"].');
        inKey = true;
        i++;
        continue;
      }
      if (c !== ',' && c !== ')' && c !== '(') continue;
    }
    const segment = v.slice(previous, i);
    const head = prefix.length ? prefix[prefix.length - 1] : '';
    if (i < v.length && v[i] === '(') prefix.push(join(head, segment));
    else if (segment) paths.push(snakePath(join(head, segment)));
    if (i < v.length && v[i] === ')') {
      if (!prefix.length) return invalid("Cannot find matching '(' for all ')'.");
      prefix.pop();
    }
    previous = i + 1;
  }
  if (inKey) return invalid("Cannot find matching ']' for all '['.");
  if (prefix.length) return invalid("Cannot find matching ')' for all '('.");
  return paths;
}

/** Struct, Value, ListValue and Any contents: any JSON, with bigints as the doubles they become. */
function plainJson(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plainJson);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) setKey(out, key, plainJson((v as Record<string, unknown>)[key]));
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Decoding: the converter's object writer, walked over a parsed value
// ---------------------------------------------------------------------------------------------

/**
 * One ProtoElement of the converter: where an error is reported. A list counts the items it has
 * started; like the converter, a scalar item only starts an element when it is refused, so in a
 * list of scalars the index in a location counts the refused items, not all of them.
 */
interface Element {
  parent: Element | null;
  field: FieldInfo | null;
  index: number;
  oneofs?: Set<string>;
}

interface Context {
  errors: string[];
  prefix: string;
  rootName: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function child(parent: Element, field: FieldInfo, isList: boolean): Element {
  if (!isList && field.repeated && parent.index >= 0) parent.index++;
  return { parent, field, index: isList ? 0 : -1 };
}

function location(ctx: Context, el: Element): string {
  const chain: Element[] = [];
  for (let e: Element | null = el; e?.field; e = e.parent) chain.push(e);
  let loc = '';
  for (let i = chain.length - 1; i >= 0; i--) {
    const { field, parent, index } = chain[i];
    if (!field!.repeated || parent!.field !== field) loc = loc ? `${loc}.${field!.name}` : field!.name;
    if (field!.repeated && index > 0) loc += `[${index - 1}]`;
  }
  return ctx.prefix ? (loc ? `${ctx.prefix}.${loc}` : ctx.prefix) : loc;
}

function invalidName(ctx: Context, el: Element, name: string, why: string): void {
  const loc = location(ctx, el);
  ctx.errors.push(`Invalid JSON payload received. Unknown name "${name}"${loc ? ` at '${loc}'` : ''}: ${why}`);
}

function invalidValue(ctx: Context, el: Element, type: string, value: string): void {
  const loc = location(ctx, el);
  ctx.errors.push(`Invalid value${loc ? ` at '${loc}'` : ''} (${type}), ${value}`);
}

/** ProtoWriter::StartObject/StartList for a named field: the oneof check, then a new element. */
function begin(ctx: Context, el: Element, name: string, field: FieldInfo, isList: boolean): Element | undefined {
  if (field.oneof) {
    el.oneofs ??= new Set();
    if (el.oneofs.has(field.oneof)) {
      invalidValue(ctx, el, 'oneof', `oneof field '${field.oneof}' is already set. Cannot set '${name}'`);
      return undefined;
    }
    el.oneofs.add(field.oneof);
  }
  return child(el, field, isList);
}

function store(out: Json, field: FieldInfo, value: unknown): void {
  if (field.repeated) ((out[field.json] ??= []) as unknown[]).push(value);
  else out[field.json] = value;
}

/** Well-known types read from a JSON primitive. */
function primitiveWellKnown(field: FieldInfo): ((v: unknown) => Converted) | undefined {
  switch (field.wellKnown) {
    case 'Timestamp': return toTimestamp;
    case 'Duration': return toDuration;
    case 'FieldMask': return toFieldMask;
    case 'Value': return plainJson;
    default: return undefined;
  }
}

/** RenderPrimitiveField: a primitive for a scalar, enum or message field. */
function renderPrimitive(ctx: Context, field: FieldInfo, v: unknown, el: Element): Converted {
  if (field.messageType || field.map) {
    invalidValue(ctx, child(el, field, false), field.typeName, valueText(v));
    return FAIL;
  }
  const value = toScalar(field, v);
  if (value === FAIL) invalidValue(ctx, child(el, field, false), field.typeName, failure);
  return value;
}

/** A primitive under a field of a message (`name` as sent). */
function renderField(ctx: Context, name: string, field: FieldInfo, v: unknown, el: Element, out: Json): void {
  const wellKnown = primitiveWellKnown(field);
  if (wellKnown) {
    if (v == null && field.wellKnown !== 'Value') return;
    const element = begin(ctx, el, name, field, false);
    if (!element) return;
    const value = wellKnown(v ?? null);
    if (value === FAIL) invalidValue(ctx, element, field.typeName, `Field '${name}', ${failure}`);
    else store(out, field, value);
    return;
  }
  if (v == null) return; // proto3 JSON: null is the default value
  if (field.oneof && !begin(ctx, el, name, field, false)) return;
  const value = renderPrimitive(ctx, field, v, el);
  if (value !== FAIL) store(out, field, value);
}

/** The value of a message field given as an object, in the element already started for it. */
function messageValue(ctx: Context, name: string, field: FieldInfo, obj: Json, el: Element, into?: unknown): unknown {
  const info = messageInfo(field.messageType!);
  switch (field.wellKnown) {
    case 'Struct': case 'Value': return plainJson(obj);
    case 'Any':
      if (typeof obj['@type'] === 'string') return plainJson(obj);
      invalidValue(ctx, el, 'Any', `Missing @type for any field in ${ctx.rootName}`);
      return undefined;
    case 'Timestamp': case 'Duration': case 'FieldMask': case 'ListValue': {
      const parts: Json = {};
      decodeFields(ctx, info, obj, el, parts);
      if (field.wellKnown === 'FieldMask') return parts.paths ?? [];
      if (field.wellKnown === 'ListValue') return parts.values ?? [];
      const seconds = Number(parts.seconds ?? 0);
      const nanos = Number(parts.nanos ?? 0);
      const text = field.wellKnown === 'Timestamp' ? formatTimestamp(seconds, nanos) : formatDuration(seconds, nanos);
      if (text === undefined) invalidValue(ctx, el, field.typeName, `Field '${name}', ${field.wellKnown} value exceeds limits`);
      return text;
    }
  }
  const out = isObject(into) && !Buffer.isBuffer(into) ? into : {};
  decodeFields(ctx, info, obj, el, out);
  return out;
}

/** An object under a field of a message. */
function startObject(ctx: Context, name: string, field: FieldInfo, obj: Json, el: Element, out: Json): void {
  if (!field.messageType && !field.map) {
    invalidValue(ctx, el, field.name, 'Starting an object on a scalar field');
    return;
  }
  const element = begin(ctx, el, name, field, Boolean(field.map));
  if (!element) return;
  if (field.map) {
    decodeMapEntries(ctx, field, obj, element, (out[field.json] ??= {}) as Json);
    return;
  }
  const value = messageValue(ctx, name, field, obj, element, field.repeated ? undefined : out[field.json]);
  if (value !== undefined) store(out, field, value);
}

/** An array under a field of a message. */
function startList(ctx: Context, name: string, field: FieldInfo, list: unknown[], el: Element, out: Json): void {
  if (field.wellKnown === 'Value' || field.wellKnown === 'ListValue') {
    const element = begin(ctx, el, name, field, false);
    if (element) store(out, field, plainJson(list));
    return;
  }
  if (field.map) {
    invalidValue(ctx, el, 'Map', `Cannot bind a list to map for field '${name}'.`);
    return;
  }
  if (!field.repeated) {
    invalidName(ctx, el, name, 'Proto field is not repeating, cannot start list.');
    return;
  }
  decodeListItems(ctx, field, list, child(el, field, true), (out[field.json] ??= []) as unknown[]);
}

function decodeListItems(ctx: Context, field: FieldInfo, list: unknown[], el: Element, target: unknown[]): void {
  if (field.wellKnown === 'Value') {
    for (const item of list) target.push(plainJson(item ?? null));
    return;
  }
  const wellKnown = primitiveWellKnown(field);
  for (const item of list) {
    if (Array.isArray(item)) {
      // The converter takes a list inside a list as more items of the same field.
      decodeListItems(ctx, field, item, child(el, field, true), target);
    } else if (isObject(item)) {
      if (!field.messageType) {
        invalidValue(ctx, el, field.name, 'Starting an object on a scalar field');
        continue;
      }
      const value = messageValue(ctx, '', field, item, child(el, field, false));
      if (value !== undefined) target.push(value);
    } else if (item == null) {
      continue; // the converter drops null items
    } else if (wellKnown) {
      const element = child(el, field, false);
      const value = wellKnown(item);
      if (value === FAIL) invalidValue(ctx, element, field.typeName, `Field '', ${failure}`);
      else target.push(value);
    } else {
      const value = renderPrimitive(ctx, field, item, el);
      if (value !== FAIL) target.push(value);
    }
  }
}

/** Map entries: each one an element of the map, located as `field[i].key` / `field[i].value`. */
function decodeMapEntries(ctx: Context, field: FieldInfo, obj: Json, el: Element, target: Json): void {
  const { key: keyField, value: valueField } = field.map!;
  const wellKnown = primitiveWellKnown(valueField);
  for (const name of Object.keys(obj)) {
    const v = obj[name];
    const entry = child(el, field, false);
    const key = keyField.scalar === 'string' ? name : renderPrimitive(ctx, keyField, name, entry);
    let value: unknown;
    if (Array.isArray(v)) {
      invalidName(ctx, entry, 'value', 'Proto field is not repeating, cannot start list.');
      continue;
    } else if (isObject(v)) {
      const valueEl = child(entry, valueField, false);
      if (valueField.messageType) {
        value = messageValue(ctx, 'value', valueField, v, valueEl);
      } else {
        // The converter starts a message on a scalar map value: an empty one leaves the default.
        for (const unknownName of Object.keys(v)) invalidName(ctx, valueEl, unknownName, 'Cannot find field.');
        value = scalarDefault(valueField);
      }
    } else if (v == null) {
      if (valueField.wellKnown !== 'Value') continue;
      value = null;
    } else if (wellKnown) {
      const valueEl = child(entry, valueField, false);
      value = wellKnown(v);
      if (value === FAIL) invalidValue(ctx, valueEl, valueField.typeName, `Field 'value', ${failure}`);
    } else {
      value = renderPrimitive(ctx, valueField, v, entry);
    }
    if (key !== FAIL && value !== FAIL && value !== undefined) setKey(target, String(key), value);
  }
}

function decodeFields(ctx: Context, info: MessageInfo, obj: Json, el: Element, out: Json): void {
  for (const name of Object.keys(obj)) {
    const v = obj[name];
    const field = info.fields.get(name);
    if (!field) invalidName(ctx, el, name, 'Cannot find field.');
    else if (Array.isArray(v)) startList(ctx, name, field, v, el, out);
    else if (isObject(v)) startObject(ctx, name, field, v, el, out);
    else renderField(ctx, name, field, v, el, out);
  }
}

/**
 * Checks a parsed JSON value against a message type of Google's protos and returns it in the
 * domain's conventions: camelCase keys, absent and null fields left out, 32-bit integers and
 * floating point as numbers, 64-bit integers as decimal strings, bytes as Buffers, enums by name,
 * Duration/Timestamp in their canonical strings, FieldMask as snake_case paths. Every problem is
 * reported in one ApiError('INVALID_ARGUMENT'), one line each, in ESF's words.
 */
export function decodeMessage(typeName: string, json: unknown, options: DecodeOptions = {}): Record<string, any> {
  const type = loadProtoRoot().lookupType(typeName);
  const ctx: Context = { errors: [], prefix: options.path ?? '', rootName: typeName };
  const root: Element = { parent: null, field: null, index: -1 };
  if (!isObject(json)) {
    invalidName(ctx, root, '', 'Root element must be a message.');
    throw new ApiError('INVALID_ARGUMENT', ctx.errors[0]);
  }
  const out: Json = {};
  try {
    decodeFields(ctx, messageInfo(type), json, root, out);
  } catch (error) {
    // Only a value nested beyond the JS stack gets here; ESF refuses such bodies while parsing.
    if (!(error instanceof RangeError)) throw error;
    throw new ApiError('INVALID_ARGUMENT', `Invalid JSON payload received. Message too deep. Max recursion depth reached for key ''`);
  }
  if (ctx.errors.length) throw new ApiError('INVALID_ARGUMENT', ctx.errors.join('\n'));
  return out;
}
