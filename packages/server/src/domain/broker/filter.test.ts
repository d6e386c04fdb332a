import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors.ts';
import { apiError } from '../../../test/helpers/api-error.ts';
import { matchesFilter, parseFilter } from './filter.ts';

type Attrs = Record<string, string>;

/** Runs `fn` and returns the ApiError it throws, so tests can assert status and message. */

const LANG = 'iana.org/language_tag';

describe('parseFilter + matchesFilter', () => {
  // filter, attributes, matches. Most rows are the examples on
  // https://cloud.google.com/pubsub/docs/subscription-message-filter.
  const cases: Array<[string, Attrs, boolean]> = [
    ['attributes:name', { name: 'com' }, true],
    ['attributes:name', { name: '' }, true],
    ['attributes:name', { Name: 'com' }, false],
    ['attributes:name', {}, false],
    ['NOT attributes:name', {}, true],
    ['NOT attributes:name', { name: 'x' }, false],
    ['attributes.name = "com"', { name: 'com' }, true],
    ['attributes.name = "com"', { name: 'COM' }, false],
    ['attributes.name = "com"', { other: 'com' }, false],
    ['attributes.name="com"', { name: 'com' }, true],
    ['attributes.name = ""', { name: '' }, true],
    ['attributes.name = ""', {}, false],
    // "Messages without the name attribute and the value of com": an absent key matches.
    ['attributes.name != "com"', { name: 'org' }, true],
    ['attributes.name != "com"', { name: 'com' }, false],
    ['attributes.name != "com"', {}, true],
    ['hasPrefix(attributes.name, "co")', { name: 'com' }, true],
    ['hasPrefix(attributes.name, "co")', { name: 'co' }, true],
    ['hasPrefix(attributes.name, "co")', { name: 'org' }, false],
    ['hasPrefix(attributes.name, "co")', {}, false],
    ['hasPrefix(attributes.name, "CO")', { name: 'com' }, false],
    ['hasPrefix(attributes.name, "")', { name: 'x' }, true],
    ['NOT hasPrefix(attributes.name, "co")', {}, true],
    ['NOT hasPrefix(attributes.name, "co")', { name: 'com' }, false],
    ['attributes.is-even = "false"', { 'is-even': 'false' }, true],
    ['attributes.9_lives = "x"', { '9_lives': 'x' }, true],
    [`attributes."${LANG}" = "en"`, { [LANG]: 'en' }, true],
    [`attributes:"${LANG}"`, { iana: 'en' }, false],
    [`hasPrefix(attributes."${LANG}", "en")`, { [LANG]: 'en-GB' }, true],
    ["attributes.name = 'com'", { name: 'com' }, true],
    // Escapes inside string literals: Unicode, hex, octal, quotes, backslash, control characters.
    ['attributes:"\\u307F\\u3093\\u306A"', { みんな: 'x' }, true],
    ['NOT attributes:"\\u307F\\u3093\\u306A"', { みんな: 'x' }, false],
    ['attributes.k = "\\U0001F600"', { k: '😀' }, true],
    ['attributes.k = "\\x41\\101"', { k: 'AA' }, true],
    ['attributes.k = "a\\"b"', { k: 'a"b' }, true],
    ['attributes.k = "a\\\\b"', { k: 'a\\b' }, true],
    ['attributes.k = "a\\tb\\n"', { k: 'a\tb\n' }, true],
    ['attributes.k = "it\'s"', { k: "it's" }, true],
    // Boolean operators.
    [`attributes:"${LANG}" AND NOT attributes.name = "com"`, { [LANG]: 'en', name: 'org' }, true],
    [`attributes:"${LANG}" AND NOT attributes.name = "com"`, { [LANG]: 'en', name: 'com' }, false],
    [`attributes:"${LANG}" AND NOT attributes.name = "com"`, { name: 'org' }, false],
    ['attributes.a = "1" OR attributes.b = "2" OR attributes.c = "3"', { c: '3' }, true],
    ['attributes.a = "1" OR attributes.b = "2" OR attributes.c = "3"', { a: '2' }, false],
    [`attributes:"${LANG}" AND (attributes.name = "net" OR attributes.name = "org")`, { [LANG]: 'en', name: 'org' }, true],
    [`attributes:"${LANG}" AND (attributes.name = "net" OR attributes.name = "org")`, { [LANG]: 'en', name: 'com' }, false],
    [`attributes:"${LANG}" AND (attributes.name = "net" OR attributes.name = "org")`, { name: 'net' }, false],
    [`attributes.name = "com" AND -attributes:"${LANG}"`, { name: 'com' }, true],
    [`attributes.name = "com" AND -attributes:"${LANG}"`, { name: 'com', [LANG]: 'en' }, false],
    // NOT binds tighter than AND: (NOT a) AND b.
    ['NOT attributes:a AND attributes:b', { b: '1' }, true],
    ['NOT attributes:a AND attributes:b', { a: '1', b: '1' }, false],
    ['NOT (attributes:a AND attributes:b)', { a: '1' }, true],
    ['NOT NOT attributes:a', { a: '1' }, true],
    ['--attributes:a', {}, false],
    ['NOT(attributes:a)', {}, true],
    ['((attributes.a = "1"))', { a: '1' }, true],
    ['(attributes:a)AND(attributes:b)', { a: '1', b: '2' }, true],
    ['  attributes:a  ', { a: '1' }, true],
    ['attributes : a', { a: '1' }, true],
    ['(NOT attributes:name) OR attributes.name = "co"', {}, true],
    // Keys are looked up as own properties only.
    ['attributes:constructor', {}, false],
    ['attributes:__proto__', {}, false],
  ];

  it.each(cases)('%s with %j -> %s', (text, attributes, expected) => {
    expect(matchesFilter(parseFilter(text), attributes)).toBe(expected);
  });

  it('treats the empty string as no filter, which matches everything', () => {
    expect(parseFilter('')).toBeUndefined();
    expect(matchesFilter(undefined, {})).toBe(true);
  });

  it('accepts exactly 256 bytes and rejects 257', () => {
    const ofBytes = (n: number) => `attributes.k = "${'x'.repeat(n - 'attributes.k = ""'.length)}"`;
    expect(Buffer.byteLength(ofBytes(256))).toBe(256);
    expect(parseFilter(ofBytes(256))).toBeDefined();
    expect(apiError(() => parseFilter(ofBytes(257))).message).toMatch(/257 bytes; the maximum is 256/);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const text = `attributes.k = "${'á'.repeat(120)}"`;
    expect(text.length).toBeLessThanOrEqual(256);
    expect(apiError(() => parseFilter(text)).status).toBe('INVALID_ARGUMENT');
  });
});

describe('parseFilter rejects invalid filters with INVALID_ARGUMENT', () => {
  // filter, a fragment of the message that says what is wrong.
  const invalid: Array<[string, string]> = [
    // The docs' own invalid examples.
    ['"com" = attributes.name', 'must start with attributes.KEY'],
    ['attributes.name = attributes.website', 'must be a string literal'],
    ['attributes:\\u307F\\u3093\\u306A', 'only allowed inside a string literal'],
    [`attributes:"${LANG}" AND attributes.name = "net" OR attributes.name = "org"`, 'without parentheses'],
    ['attributes:a OR attributes:b AND attributes:c', 'without parentheses'],
    ['attributes.name = "com" AND ("net" OR "org")', 'must start with attributes.KEY'],
    // Operators must be uppercase.
    ['attributes:a and attributes:b', "'and' must be written in uppercase"],
    ['attributes:a or attributes:b', "'or' must be written in uppercase"],
    ['not attributes:a', "'not' must be written in uppercase"],
    // Only attributes, only hasPrefix.
    ['data = "x"', "unknown field 'data'"],
    ['attribute.name = "x"', "unknown field 'attribute'"],
    ['message.attributes.name = "x"', "unknown field 'message'"],
    ['matches(attributes.name, "co.*")', "unknown function 'matches'"],
    ['hasprefix(attributes.name, "co")', "unknown function 'hasprefix'"],
    ['hasPrefix(attributes.name)', 'takes two arguments'],
    ['hasPrefix(attributes.name, "a", "b")', 'exactly two arguments'],
    ['hasPrefix(attributes.name, attributes.other)', 'must be a string literal'],
    ['hasPrefix("co", attributes.name)', 'must be attributes.KEY'],
    ['hasPrefix attributes.name', "expected '('"],
    // Malformed comparisons.
    ['attributes.name', "expected '=' or '!='"],
    ['attributes.name > "a"', "expected '=' or '!='"],
    ['attributes.name == "a"', 'must be a string literal'],
    ['attributes.name = com', 'must be a string literal'],
    ['attributes.name =', 'must be a string literal'],
    ['attributes', 'expected attributes.KEY or attributes:KEY'],
    ['attributes.', 'expected an attribute key'],
    ['attributes.iana.org = "x"', "expected '=' or '!='"],
    ['attributes.a b = "x"', "expected '=' or '!='"],
    ['attributes.name = "com', 'unterminated string literal'],
    ['attributes.name = "com\\', 'unterminated string literal'],
    ['attributes.name = "\\q"', "invalid escape sequence '\\q'"],
    ['attributes.name = "\\x4"', 'invalid escape sequence'],
    ['attributes.name = "\\u12G4"', 'invalid escape sequence'],
    ['attributes.name = "\\8"', 'invalid escape sequence'],
    ['attributes.name = "\\U00110000"', 'not a valid Unicode code point'],
    // Structure.
    ['(attributes.name = "com"', "expected ')'"],
    ['attributes.name = "com")', "unmatched ')'"],
    ['()', 'empty parentheses'],
    ['attributes:a AND', 'the filter ended'],
    ['NOT', 'the filter ended'],
    ['-', 'the filter ended'],
    ['attributes:a attributes:b', 'expected AND or OR'],
    ['(attributes:a attributes:b)', "expected AND, OR or ')'"],
    ['attributes:a ANDattributes:b', 'expected AND or OR'],
    ['   ', 'the filter ended'],
    ['this is not a filter (((', "unknown field 'this'"],
    ['*', "unexpected '*'"],
  ];

  it.each(invalid)('%s', (text, fragment) => {
    const error = apiError(() => parseFilter(text));
    expect(error.status).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^Invalid filter expression: /);
    expect(error.message).toContain(fragment);
  });

  it('never throws anything but an ApiError, on any text', () => {
    const pieces = fc.constantFrom(
      'attributes', '.', ':', '=', '!=', '"', "'", '\\', '(', ')', ',', ' ', '-', 'AND', 'OR', 'NOT',
      'hasPrefix', 'k', 'x1', '\\u', '\\x4', '\\0', '\\U0010FFFF', 'é', '😀',
    );
    const filterish = fc.array(pieces, { maxLength: 40 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), filterish), (text) => {
        try {
          const filter = parseFilter(text);
          matchesFilter(filter, { k: 'v', attributes: 'x' });
        } catch (error) {
          if (!(error instanceof ApiError) || error.status !== 'INVALID_ARGUMENT') throw error;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
