/**
 * The Pub/Sub subscription filter language: parse once at subscription create, match per message.
 *
 * Facts relied on, from "Filter messages from a subscription",
 * https://cloud.google.com/pubsub/docs/subscription-message-filter (now served at
 * docs.cloud.google.com/pubsub/docs/filtering; copy read was "Last updated 2026-04-10"):
 * - Filters see message attributes only, never the data. `attributes` is the one identifier.
 * - `attributes:KEY` has the key; `attributes.KEY = "V"` / `!= "V"` compare its value. The value
 *   must be a string literal; the left side must be a key ("com" = attributes.name and
 *   attributes.name = attributes.website are listed as invalid).
 * - `attributes.name != "com"` selects "messages without the name attribute and the value of
 *   com", so it matches when the key is absent; `NOT hasPrefix(...)` likewise.
 * - Keys and values are case-sensitive. A key with characters other than hyphens, underscores or
 *   alphanumerics must be a string literal: attributes."iana.org/language_tag".
 * - String literals take escapes for backslash, quotes and non-printing characters, plus Unicode,
 *   hex and octal escape sequences; an escape outside a literal is invalid.
 * - AND, NOT, OR must be uppercase. NOT has the highest precedence. AND and OR may only be
 *   combined with parentheses around complete expressions. Unary `-` may be used instead of NOT.
 * - hasPrefix(attributes.KEY, "SUBSTRING") is the only function; no regular expressions.
 * - The maximum length of a filter is 256 bytes; an empty filter filters nothing (pubsub.proto).
 * The docs give no limit on the number of operators, so none is enforced beyond the 256 bytes.
 *
 * Our choices where the docs are silent: both quote styles and the escape set follow AIP-160, the
 * grammar behind Go's pstest (google-cloud-go pubsub/pstest/filtering.go uses
 * go.einride.tech/aip/filtering); AIP-160's implicit AND by juxtaposition is rejected; a blank
 * (whitespace-only) filter is rejected. The error wording is ours: production's was not found.
 */
import { invalidArgument, type ApiError } from '../errors.ts';

export type Filter =
  | { kind: 'has'; key: string }
  | { kind: 'equals'; key: string; value: string }
  | { kind: 'notEquals'; key: string; value: string }
  | { kind: 'hasPrefix'; key: string; prefix: string }
  | { kind: 'not'; operand: Filter }
  | { kind: 'and'; operands: Filter[] }
  | { kind: 'or'; operands: Filter[] };

export const MAX_FILTER_BYTES = 256;

/** Parses a filter; '' means no filter. Throws INVALID_ARGUMENT saying what is wrong and where. */
export function parseFilter(text: string): Filter | undefined {
  if (text === '') return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_FILTER_BYTES) {
    throw invalidArgument(`Invalid filter expression: the filter is ${bytes} bytes; the maximum is ${MAX_FILTER_BYTES}.`);
  }
  const parser = new Parser(text);
  const filter = parser.expression();
  parser.skipSpace();
  if (!parser.atEnd()) {
    throw parser.fail(parser.peekWord() === ')' ? "unmatched ')'" : `expected AND or OR, found ${parser.describe()}`);
  }
  return filter;
}

export function matchesFilter(filter: Filter | undefined, attributes: Record<string, string>): boolean {
  if (filter === undefined) return true;
  const has = (key: string) => Object.hasOwn(attributes, key);
  switch (filter.kind) {
    case 'has':
      return has(filter.key);
    case 'equals':
      return has(filter.key) && attributes[filter.key] === filter.value;
    case 'notEquals':
      return !(has(filter.key) && attributes[filter.key] === filter.value);
    case 'hasPrefix':
      return has(filter.key) && attributes[filter.key].startsWith(filter.prefix);
    case 'not':
      return !matchesFilter(filter.operand, attributes);
    case 'and':
      return filter.operands.every((f) => matchesFilter(f, attributes));
    case 'or':
      return filter.operands.some((f) => matchesFilter(f, attributes));
  }
}

const KEY_CHAR = /[A-Za-z0-9_-]/;
const WORD = /^[A-Za-z0-9_]+/;
const HEX = /^[0-9A-Fa-f]+$/;
const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\\': '\\', '"': '"', "'": "'", '`': '`', '?': '?',
};

/** Recursive descent straight over the text: keys may contain '-', so lexing depends on context. */
class Parser {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  // expression := term ( (AND term)* | (OR term)* ). peekWord reads a whole word, so
  // `ANDx` is never AND and no whitespace is needed around the operators: `(a)AND(b)`.
  expression(): Filter {
    const first = this.term();
    const operands = [first];
    let op: 'AND' | 'OR' | undefined;
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      const word = this.peekWord();
      if (word !== 'AND' && word !== 'OR') {
        if (word === 'and' || word === 'or') throw this.fail(`'${word}' must be written in uppercase`);
        this.pos = save;
        break;
      }
      if (op !== undefined && word !== op) {
        throw this.fail('AND and OR cannot be combined without parentheses; group complete expressions with ( )');
      }
      op = word;
      this.pos += word.length;
      operands.push(this.term());
    }
    if (op === undefined) return first;
    return op === 'AND' ? { kind: 'and', operands } : { kind: 'or', operands };
  }

  // term := NOT term | '-' term | '(' expression ')' | hasPrefix(...) | attributes...
  term(): Filter {
    this.skipSpace();
    if (this.text.startsWith('-', this.pos)) {
      this.pos++;
      return { kind: 'not', operand: this.term() };
    }
    if (this.text.startsWith('(', this.pos)) {
      this.pos++;
      this.skipSpace();
      if (this.text.startsWith(')', this.pos)) throw this.fail('empty parentheses');
      const inner = this.expression();
      this.skipSpace();
      if (!this.atEnd() && this.text[this.pos] !== ')') throw this.fail(`expected AND, OR or ')', found ${this.describe()}`);
      this.expect(')', "expected ')' to close '('");
      return inner;
    }
    const word = this.peekWord();
    if (word === 'NOT') {
      this.pos += 3;
      return { kind: 'not', operand: this.term() };
    }
    if (word === 'hasPrefix') return this.hasPrefix();
    if (word === 'attributes') return this.comparison();
    if (this.atEnd()) throw this.fail('expected an expression but the filter ended');
    if (this.text[this.pos] === '"' || this.text[this.pos] === "'") {
      throw this.fail('a comparison must start with attributes.KEY, not a value');
    }
    if (word === 'not') throw this.fail("'not' must be written in uppercase");
    if (WORD.test(word) && this.text.startsWith('(', this.pos + word.length)) {
      throw this.fail(`unknown function '${word}'; hasPrefix is the only supported function`);
    }
    if (WORD.test(word)) throw this.fail(`unknown field '${word}'; filters can only reference message attributes`);
    throw this.fail(`unexpected ${this.describe()}`);
  }

  // attributes:KEY | attributes.KEY (= | !=) STRING
  comparison(): Filter {
    this.pos += 'attributes'.length;
    if (this.text.startsWith('.', this.pos)) {
      this.pos++;
      const key = this.key();
      this.skipSpace();
      const op = this.text.startsWith('!=', this.pos) ? '!=' : this.text.startsWith('=', this.pos) ? '=' : undefined;
      if (op === undefined) throw this.fail(`expected '=' or '!=' after attributes.${key}`);
      this.pos += op.length;
      this.skipSpace();
      const value = this.string('the value compared with an attribute must be a string literal');
      return op === '=' ? { kind: 'equals', key, value } : { kind: 'notEquals', key, value };
    }
    this.skipSpace();
    if (this.text.startsWith(':', this.pos)) {
      this.pos++;
      this.skipSpace();
      return { kind: 'has', key: this.key() };
    }
    throw this.fail("expected attributes.KEY or attributes:KEY");
  }

  // hasPrefix(attributes.KEY, STRING)
  hasPrefix(): Filter {
    this.pos += 'hasPrefix'.length;
    this.skipSpace();
    this.expect('(', "expected '(' after hasPrefix");
    this.skipSpace();
    if (this.peekWord() !== 'attributes' || this.text[this.pos + 'attributes'.length] !== '.') {
      throw this.fail('the first argument of hasPrefix must be attributes.KEY');
    }
    this.pos += 'attributes.'.length;
    const key = this.key();
    this.skipSpace();
    this.expect(',', 'hasPrefix takes two arguments: attributes.KEY and a string literal');
    this.skipSpace();
    const prefix = this.string('the second argument of hasPrefix must be a string literal');
    this.skipSpace();
    this.expect(')', "expected ')' to close hasPrefix; it takes exactly two arguments");
    return { kind: 'hasPrefix', key, prefix };
  }

  key(): string {
    const quote = this.text[this.pos];
    if (quote === '"' || quote === "'") return this.string('');
    const start = this.pos;
    while (this.pos < this.text.length && KEY_CHAR.test(this.text[this.pos])) this.pos++;
    if (this.pos === start) {
      throw this.fail(
        this.text[this.pos] === '\\'
          ? 'escape sequences are only allowed inside a string literal'
          : 'expected an attribute key; quote keys with characters other than letters, digits, - and _',
      );
    }
    return this.text.slice(start, this.pos);
  }

  string(whenMissing: string): string {
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'") throw this.fail(whenMissing);
    const start = this.pos++;
    let out = '';
    for (;;) {
      if (this.atEnd()) {
        this.pos = start;
        throw this.fail('unterminated string literal');
      }
      const c = this.text[this.pos++];
      if (c === quote) return out;
      out += c === '\\' ? this.escape() : c;
    }
  }

  escape(): string {
    const at = this.pos - 1;
    const c = this.text[this.pos++] ?? '';
    if (Object.hasOwn(SIMPLE_ESCAPES, c)) return SIMPLE_ESCAPES[c];
    const digits = (n: number, radix: number, pattern: RegExp, lead: string) => {
      const s = this.text.slice(this.pos, this.pos + n);
      if (s.length !== n || !pattern.test(s)) {
        this.pos = at;
        throw this.fail(`invalid escape sequence '\\${lead}${s}'`);
      }
      this.pos += n;
      return Number.parseInt(s, radix);
    };
    let code: number;
    if (c === 'x' || c === 'X') code = digits(2, 16, HEX, c);
    else if (c === 'u') code = digits(4, 16, HEX, c);
    else if (c === 'U') code = digits(8, 16, HEX, c);
    else if (c >= '0' && c <= '7') {
      this.pos--;
      code = digits(3, 8, /^[0-7]+$/, '');
    } else {
      this.pos = at;
      throw this.fail(c === '' ? 'unterminated string literal' : `invalid escape sequence '\\${c}'`);
    }
    if (code > 0x10ffff) {
      this.pos = at;
      throw this.fail('escape sequence is not a valid Unicode code point');
    }
    return String.fromCodePoint(code);
  }

  /** Skips whitespace; returns whether any was skipped. */
  skipSpace(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
    return this.pos > start;
  }

  peekWord(): string {
    return WORD.exec(this.text.slice(this.pos))?.[0] ?? this.text[this.pos] ?? '';
  }

  expect(token: string, message: string): void {
    if (!this.text.startsWith(token, this.pos)) throw this.fail(message);
    this.pos += token.length;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  describe(): string {
    return this.atEnd() ? 'end of filter' : `'${this.peekWord()}'`;
  }

  fail(detail: string): ApiError {
    return invalidArgument(`Invalid filter expression: ${detail} (at position ${this.pos}).`);
  }
}
