import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../domain/errors.ts';
import { decodeMessage, parseJsonBody, type DecodeOptions } from './proto-json.ts';

const SUBSCRIPTION = 'google.pubsub.v1.Subscription';
const PUBLISH = 'google.pubsub.v1.PublishRequest';
const UPDATE_SUBSCRIPTION = 'google.pubsub.v1.UpdateSubscriptionRequest';
const SET_IAM_POLICY = 'google.iam.v1.SetIamPolicyRequest';
const STATE = 'type.googleapis.com/google.pubsub.v1.Subscription.State';
const DURATION = 'type.googleapis.com/google.protobuf.Duration';
const TIMESTAMP = 'type.googleapis.com/google.protobuf.Timestamp';
const FIELD_MASK = 'type.googleapis.com/google.protobuf.FieldMask';

function refusal(type: string, json: unknown, options?: DecodeOptions): string {
  try {
    decodeMessage(type, json, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe('INVALID_ARGUMENT');
    return (error as ApiError).message;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be refused`);
}

function syntaxError(text: string): string {
  try {
    parseJsonBody(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe('INVALID_ARGUMENT');
    return (error as ApiError).message;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

/** One field of `type`, decoded. */
const field = (type: string, name: string, value: unknown): unknown => decodeMessage(type, { [name]: value })[name];

describe('parseJsonBody', () => {
  it.each([
    ['', {}],
    [' \n\t', {}],
    ['{"name":"a","labels":{"k":"v"},"n":[1,2.5,-3,true,null]}', { name: 'a', labels: { k: 'v' }, n: [1, 2.5, -3, true, null] }],
    // ESF's parser is lenient where JSON.parse is not.
    [`{'name': 'a', ackDeadlineSeconds: 10, list: [1, 2,],}`, { name: 'a', ackDeadlineSeconds: 10, list: [1, 2] }],
    ['{"a": "x\\qy\\v"}', { a: 'xqy\v' }],
    ['{"a": "\\ud83d\\ude00"}', { a: '😀' }],
    ['{"a": 0.5, "b": -0.5e1, "c": 1E2}', { a: 0.5, b: -5, c: 100 }],
  ])('reads %j', (text, value) => {
    expect(parseJsonBody(text)).toEqual(value);
  });

  it('keeps integers beyond 2^53 exact, as bigint', () => {
    expect(parseJsonBody('{"a": 9223372036854775807, "b": -9007199254740993}')).toEqual({
      a: 9223372036854775807n,
      b: -9007199254740993n,
    });
    expect(parseJsonBody('{"a": 123456789012345678901234567890}')).toEqual({ a: 1.2345678901234568e29 });
  });

  it('keeps a key named __proto__ as data', () => {
    const value = parseJsonBody(`{'__proto__': {"x": 1}}`) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
  });

  // ESF adds the parser's text, then 20 bytes of context either side and a caret under the
  // failure. Where the body ends early, the parser has stopped and restarted at the last token it
  // could not finish, so the context starts there.
  it.each([
    ['{', 'Unexpected end of string. Expected an object key or }.\n\n^'],
    ['{"a":', 'Unexpected end of string. Expected a value.\n\n^'],
    ['{"a": 1', 'Unexpected end of string. Expected , or } after key:value pair.\n1\n ^'],
    ['[1', 'Unexpected end of string. Expected , or ] after array value.\n1\n ^'],
    ['{"a": "b', 'Closing quote expected in string.\n\n^'],
    ['{"a" 1}', 'Expected : between key:value pair.\n{"a" 1}\n     ^'],
    ['{"a": 1 "b": 2}', 'Expected , or } after key:value pair.\n{"a": 1 "b": 2}\n        ^'],
    ['[1 2]', 'Expected , or ] after array value.\n[1 2]\n   ^'],
    ['{"a": @}', 'Expected a value.\n@}\n^'],
    ['{"a": tru}', 'Unexpected token.\ntru}\n^'],
    ['{"a": nope, "b": 1}', 'Unexpected token.\n{"a": nope, "b": 1}\n      ^'],
    ['{1: 2}', 'Expected an object key or }.\n{1: 2}\n ^'],
    ['{null: 2}', 'Expected an object key or }.\n{null: 2}\n     ^'],
    ['{"a": 01}', 'Octal/hex numbers are not valid JSON values.\n{"a": 01}\n      ^'],
    ['{"a": 1.2.3}', 'Unable to parse number.\n{"a": 1.2.3}\n      ^'],
    ['{"a": 1e999}', 'Number exceeds the range of double.\n{"a": 1e999}\n      ^'],
    ['{"a": "\\ud800x"}', 'Missing low surrogate.\n\\ud800x"}\n^'],
    ['{"a": "\\udc00 and more text"}', 'Invalid unicode code point.\n{"a": "\\udc00 and more text\n       ^'],
    ['{"a": "\\uzzzz and more text"}', 'Invalid escape sequence.\n{"a": "\\uzzzz and more text\n       ^'],
    ['{"a": 1} x', 'Parsing terminated before end of input.\n{"a": 1} x\n         ^'],
    [
      '{"name": "projects/p/subscriptions/s", "topic" "projects/p/topics/t"}',
      // 20 bytes either side of the failure.
      'Expected : between key:value pair.\niptions/s", "topic" "projects/p/topics/t\n                    ^',
    ],
  ])('refuses %j', (text, message) => {
    expect(syntaxError(text)).toBe(`Invalid JSON payload received. ${message}`);
  });

  it('refuses objects nested more than 100 deep, naming the key', () => {
    expect(syntaxError(`${'{"a":'.repeat(100)}{"b":{}}${'}'.repeat(100)}`)).toBe(
      "Invalid JSON payload received. Message too deep. Max recursion depth reached for key 'a'",
    );
    expect(parseJsonBody(`${'{"a":'.repeat(99)}{}${'}'.repeat(99)}`)).toBeTypeOf('object');
    // Lists do not count.
    expect(parseJsonBody(`${'['.repeat(500)}${']'.repeat(500)}`)).toBeInstanceOf(Array);
  });

  it('reads standard JSON as JSON.parse does, on either path', () => {
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x)));
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(plain(parseJsonBody(text))).toEqual(JSON.parse(text));
        // A trailing comma is not JSON, so this goes through the port of ESF's parser.
        expect(plain(parseJsonBody(`[${text},]`))).toEqual([JSON.parse(text)]);
      }),
    );
  });

  it('answers any text with a value or an ApiError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json().map((j) => j.slice(0, -1)), fc.json().map((j) => j.replace(/"/g, "'"))), (text) => {
        try {
          parseJsonBody(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeMessage: scalars', () => {
  it.each([
    ['ackDeadlineSeconds', 20, 20],
    ['ackDeadlineSeconds', '20', 20],
    ['ackDeadlineSeconds', '+20', 20],
    ['ackDeadlineSeconds', 20.0, 20],
    ['ackDeadlineSeconds', -2147483648, -2147483648],
    ['enableMessageOrdering', true, true],
    ['enableMessageOrdering', false, false],
    // datapiece.cc reads strings for bools with safe_strtob.
    ['enableMessageOrdering', 'true', true],
    ['enableMessageOrdering', 'YES', true],
    ['enableMessageOrdering', '0', false],
    ['name', 'projects/p/subscriptions/s', 'projects/p/subscriptions/s'],
    ['name', '', ''],
    ['state', 'ACTIVE', 'ACTIVE'],
    ['state', 'resource-error', 'RESOURCE_ERROR'],
    ['state', 1, 'ACTIVE'],
    ['state', '2', 'RESOURCE_ERROR'],
  ])('Subscription.%s %j -> %j', (name, value, expected) => {
    expect(field(SUBSCRIPTION, name, value)).toEqual(expected);
  });

  it.each([
    ['ackDeadlineSeconds', 'abc', `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), "abc"`],
    ['ackDeadlineSeconds', ' 20', `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), " 20"`],
    ['ackDeadlineSeconds', '2.0', `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), "2.0"`],
    ['ackDeadlineSeconds', '1e1', `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), "1e1"`],
    ['ackDeadlineSeconds', 1.5, `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), 1.5`],
    ['ackDeadlineSeconds', 2147483648, `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), 2147483648`],
    ['ackDeadlineSeconds', 1e21, `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), 1e+21`],
    ['ackDeadlineSeconds', 0.0001, `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), 0.0001`],
    ['ackDeadlineSeconds', true, `Invalid value at 'ack_deadline_seconds' (TYPE_INT32), true`],
    ['enableMessageOrdering', 1, `Invalid value at 'enable_message_ordering' (TYPE_BOOL), 1`],
    ['enableMessageOrdering', 'maybe', `Invalid value at 'enable_message_ordering' (TYPE_BOOL), "maybe"`],
    ['enableMessageOrdering', '', `Invalid value at 'enable_message_ordering' (TYPE_BOOL), ""`],
    ['name', 5, `Invalid value at 'name' (TYPE_STRING), 5`],
    ['name', false, `Invalid value at 'name' (TYPE_STRING), false`],
    ['state', 'FOO', `Invalid value at 'state' (${STATE}), "FOO"`],
    ['state', 99, `Invalid value at 'state' (${STATE}), 99`],
    ['state', 1.5, `Invalid value at 'state' (${STATE}), 1.5`],
    ['state', true, `Invalid value at 'state' (${STATE}), true`],
  ])('Subscription.%s %j is refused', (name, value, message) => {
    expect(refusal(SUBSCRIPTION, { [name]: value })).toBe(message);
  });

  it('reads 64-bit integers from numbers and strings into decimal strings', () => {
    const config = 'google.pubsub.v1.CloudStorageConfig';
    expect(field(config, 'maxBytes', 1024)).toBe('1024');
    expect(field(config, 'maxBytes', '-1024')).toBe('-1024');
    expect(field(config, 'maxBytes', '9223372036854775807')).toBe('9223372036854775807');
    expect(field(config, 'maxBytes', 1e18)).toBe('1000000000000000000');
    expect(decodeMessage(config, parseJsonBody('{"maxBytes": 9223372036854775807}'))).toEqual({ maxBytes: '9223372036854775807' });
    expect(refusal(config, { maxBytes: '9223372036854775808' })).toBe(`Invalid value at 'max_bytes' (TYPE_INT64), "9223372036854775808"`);
    expect(refusal(config, parseJsonBody('{"maxBytes": 9223372036854775808}'))).toBe(`Invalid value at 'max_bytes' (TYPE_INT64), 9223372036854775808`);
    expect(refusal(config, { maxBytes: 1e19 })).toBe(`Invalid value at 'max_bytes' (TYPE_INT64), 1e+19`);
    expect(refusal(config, { maxBytes: 0.5 })).toBe(`Invalid value at 'max_bytes' (TYPE_INT64), 0.5`);

    const option = 'google.protobuf.UninterpretedOption';
    expect(field(option, 'positiveIntValue', '18446744073709551615')).toBe('18446744073709551615');
    expect(refusal(option, { positiveIntValue: -1 })).toBe(`Invalid value at 'positive_int_value' (TYPE_UINT64), -1`);
    expect(refusal(option, { positiveIntValue: '-0' })).toBe(`Invalid value at 'positive_int_value' (TYPE_UINT64), "-0"`);
  });

  it('reads floating point from numbers and strings, including the JSON spellings of non-finite values', () => {
    const option = 'google.protobuf.UninterpretedOption';
    expect(field(option, 'doubleValue', 1.5)).toBe(1.5);
    expect(field(option, 'doubleValue', '-2.5e3')).toBe(-2500);
    expect(field(option, 'doubleValue', 'Infinity')).toBe(Infinity);
    expect(field(option, 'doubleValue', 'NaN')).toBeNaN();
    expect(refusal(option, { doubleValue: 'one' })).toBe(`Invalid value at 'double_value' (TYPE_DOUBLE), "one"`);
    expect(refusal(option, { doubleValue: '1e999' })).toBe(`Invalid value at 'double_value' (TYPE_DOUBLE), "1e999"`);

    const longRunning = 'google.api.MethodSettings.LongRunning';
    expect(field(longRunning, 'pollDelayMultiplier', 1.5)).toBe(1.5);
    expect(refusal(longRunning, { pollDelayMultiplier: 1e39 })).toBe(`Invalid value at 'poll_delay_multiplier' (TYPE_FLOAT), 1e+39`);
  });

  it.each([
    ['aGVsbG8=', 'hello'],
    ['aGVsbG8', 'hello'],
    ['aGVsbA==', 'hell'],
    ['aGVsbA', 'hell'],
    ['aGVs bG8=\n', 'hello'],
    ['', ''],
  ])('bytes %j -> %j', (data, text) => {
    expect((field('google.pubsub.v1.PubsubMessage', 'data', data) as Buffer).toString()).toBe(text);
  });

  it('reads bytes in either base64 alphabet, but not a mix of them', () => {
    const message = 'google.pubsub.v1.PubsubMessage';
    expect(field(message, 'data', '-_-_')).toEqual(Buffer.from([0xfb, 0xff, 0xbf]));
    expect(field(message, 'data', '+/+/')).toEqual(Buffer.from([0xfb, 0xff, 0xbf]));
    for (const data of ['+_-/', '%%%', 'aGVsbG8==', 'aGVsbA=', 'aGVsbG8=x', 'a', 'aGVs%bG8=', 'é']) {
      expect(refusal(message, { data })).toBe(`Invalid value at 'data' (TYPE_BYTES), Base64 decoding failed for "${data}"`);
    }
    expect(refusal(message, { data: 5 })).toBe(`Invalid value at 'data' (TYPE_BYTES), 5`);
  });

  it('leaves out absent and null fields, fills in no defaults', () => {
    expect(decodeMessage(SUBSCRIPTION, {})).toEqual({});
    expect(decodeMessage(SUBSCRIPTION, { name: null, pushConfig: null, labels: null, ackDeadlineSeconds: null, messageRetentionDuration: null })).toEqual({});
  });

  it('accepts the proto (snake_case) and the JSON (camelCase) name, answers in camelCase', () => {
    expect(decodeMessage(SUBSCRIPTION, { ack_deadline_seconds: 1e3 })).toEqual({ ackDeadlineSeconds: 1000 });
    expect(decodeMessage(SUBSCRIPTION, { ack_deadline_seconds: 10, retain_acked_messages: true, push_config: { push_endpoint: 'https://x' } })).toEqual({
      ackDeadlineSeconds: 10,
      retainAckedMessages: true,
      pushConfig: { pushEndpoint: 'https://x' },
    });
  });
});

describe('decodeMessage: repeated fields and maps', () => {
  const ACK = 'google.pubsub.v1.AcknowledgeRequest';

  it('reads lists, a single value as a one-item list, and drops null items', () => {
    expect(decodeMessage(ACK, { subscription: 's', ackIds: ['a', 'b'] })).toEqual({ subscription: 's', ackIds: ['a', 'b'] });
    expect(decodeMessage(ACK, { ackIds: 'a' })).toEqual({ ackIds: ['a'] });
    expect(decodeMessage(ACK, { ackIds: [null, 'a', null] })).toEqual({ ackIds: ['a'] });
    expect(decodeMessage(ACK, { ackIds: [] })).toEqual({ ackIds: [] });
    expect(decodeMessage(PUBLISH, { messages: { data: 'YQ==' } })).toEqual({ messages: [{ data: Buffer.from('a') }] });
  });

  it('locates refused list items like the converter: a refused scalar is counted, an accepted one is not', () => {
    expect(refusal(ACK, { ackIds: ['a', 1] })).toBe(`Invalid value at 'ack_ids[0]' (TYPE_STRING), 1`);
    expect(refusal(ACK, { ackIds: [1, 'a', true] })).toBe(
      `Invalid value at 'ack_ids[0]' (TYPE_STRING), 1\nInvalid value at 'ack_ids[1]' (TYPE_STRING), true`,
    );
    expect(refusal(ACK, { ackIds: 1 })).toBe(`Invalid value at 'ack_ids' (TYPE_STRING), 1`);
    expect(refusal(ACK, { ackIds: [{}] })).toBe(`Invalid value at 'ack_ids' (ack_ids), Starting an object on a scalar field`);
    expect(refusal(ACK, { ackIds: {} })).toBe(`Invalid value (ack_ids), Starting an object on a scalar field`);
  });

  it('locates messages in lists by index', () => {
    expect(refusal(PUBLISH, { topic: 't', messages: [{ data: 'YQ==' }, { data: '%%%' }] })).toBe(
      `Invalid value at 'messages[1].data' (TYPE_BYTES), Base64 decoding failed for "%%%"`,
    );
    expect(refusal(PUBLISH, { messages: [{}, 'x'] })).toBe(`Invalid value at 'messages[1]' (type.googleapis.com/google.pubsub.v1.PubsubMessage), "x"`);
    expect(refusal(PUBLISH, { messages: [{ attributes: { a: 'b', c: 1 } }] })).toBe(`Invalid value at 'messages[0].attributes[1].value' (TYPE_STRING), 1`);
  });

  it('reads maps into plain objects', () => {
    expect(decodeMessage(SUBSCRIPTION, { labels: { env: 'prod', team: '' } })).toEqual({ labels: { env: 'prod', team: '' } });
    expect(decodeMessage(SUBSCRIPTION, { labels: { a: null, b: 'c' } })).toEqual({ labels: { b: 'c' } });
    const labels = decodeMessage(SUBSCRIPTION, parseJsonBody('{"labels": {"__proto__": "x"}}')).labels;
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.entries(labels)).toEqual([['__proto__', 'x']]);
  });

  it.each([
    [{ labels: { a: 'b', c: 5 } }, `Invalid value at 'labels[1].value' (TYPE_STRING), 5`],
    [{ labels: { a: [] } }, `Invalid JSON payload received. Unknown name "value" at 'labels[0]': Proto field is not repeating, cannot start list.`],
    [{ labels: { a: { b: 1 } } }, `Invalid JSON payload received. Unknown name "b" at 'labels[0].value': Cannot find field.`],
    [{ labels: 'x' }, `Invalid value at 'labels' (type.googleapis.com/google.pubsub.v1.Subscription.LabelsEntry), "x"`],
    [{ labels: [] }, `Invalid value (Map), Cannot bind a list to map for field 'labels'.`],
    [
      { pushConfig: { attributes: ['x-goog-version'] } },
      `Invalid value at 'push_config' (Map), Cannot bind a list to map for field 'attributes'.`,
    ],
  ])('refuses map %j', (json, message) => {
    expect(refusal(SUBSCRIPTION, json)).toBe(message);
  });
});

describe('decodeMessage: messages, paths and unknown fields', () => {
  it.each([
    [SUBSCRIPTION, { foo: 1 }, undefined, `Invalid JSON payload received. Unknown name "foo": Cannot find field.`],
    [SUBSCRIPTION, { foo: null }, undefined, `Invalid JSON payload received. Unknown name "foo": Cannot find field.`],
    [SUBSCRIPTION, { foo: 1 }, { path: 'subscription' }, `Invalid JSON payload received. Unknown name "foo" at 'subscription': Cannot find field.`],
    [
      SUBSCRIPTION,
      { pushConfig: { oidcToken: { serviceAccountEmail: 'a', extra: [1] } } },
      undefined,
      `Invalid JSON payload received. Unknown name "extra" at 'push_config.oidc_token': Cannot find field.`,
    ],
    [UPDATE_SUBSCRIPTION, { subscription: { deadLetterPolicy: { maxDeliveryAttempt: 5 } } }, undefined,
      `Invalid JSON payload received. Unknown name "maxDeliveryAttempt" at 'subscription.dead_letter_policy': Cannot find field.`],
    [PUBLISH, { messages: [{ data: 'YQ==' }, { date: 'YQ==' }] }, undefined, `Invalid JSON payload received. Unknown name "date" at 'messages[1]': Cannot find field.`],
    [SET_IAM_POLICY, { policy: { bindings: [{ role: 'r', condition: { expression: 'x', lang: 'cel' } }] } }, undefined,
      `Invalid JSON payload received. Unknown name "lang" at 'policy.bindings[0].condition': Cannot find field.`],
  ])('%s %j is refused as unknown', (type, json, options, message) => {
    expect(refusal(type, json, options)).toBe(message);
  });

  it.each([
    [{ subscription: { pushConfig: { pushEndpoint: 5 } } }, `Invalid value at 'subscription.push_config.push_endpoint' (TYPE_STRING), 5`],
    [{ subscription: { deadLetterPolicy: { maxDeliveryAttempts: 'x' } } }, `Invalid value at 'subscription.dead_letter_policy.max_delivery_attempts' (TYPE_INT32), "x"`],
    [{ subscription: { state: 'FOO' } }, `Invalid value at 'subscription.state' (${STATE}), "FOO"`],
    [{ subscription: { pushConfig: 'x' } }, `Invalid value at 'subscription.push_config' (type.googleapis.com/google.pubsub.v1.PushConfig), "x"`],
    [{ subscription: { pushConfig: [] } }, `Invalid JSON payload received. Unknown name "pushConfig" at 'subscription': Proto field is not repeating, cannot start list.`],
    [{ subscription: { ackDeadlineSeconds: [10] } }, `Invalid JSON payload received. Unknown name "ackDeadlineSeconds" at 'subscription': Proto field is not repeating, cannot start list.`],
    [{ subscription: { ackDeadlineSeconds: { value: 10 } } }, `Invalid value at 'subscription' (ack_deadline_seconds), Starting an object on a scalar field`],
    [{ subscription: 'projects/p/subscriptions/s' }, `Invalid value at 'subscription' (type.googleapis.com/google.pubsub.v1.Subscription), "projects/p/subscriptions/s"`],
  ])('locates %j in proto names', (json, message) => {
    expect(refusal(UPDATE_SUBSCRIPTION, json)).toBe(message);
  });

  it('reports every problem, one per line, in the order of the body', () => {
    expect(refusal(SUBSCRIPTION, { foo: 1, ackDeadlineSeconds: 'x', labels: { a: 1 }, bar: {} }, { path: 'subscription' })).toBe(
      [
        `Invalid JSON payload received. Unknown name "foo" at 'subscription': Cannot find field.`,
        `Invalid value at 'subscription.ack_deadline_seconds' (TYPE_INT32), "x"`,
        `Invalid value at 'subscription.labels[0].value' (TYPE_STRING), 1`,
        `Invalid JSON payload received. Unknown name "bar" at 'subscription': Cannot find field.`,
      ].join('\n'),
    );
  });

  it('refuses a second member of a oneof', () => {
    expect(refusal('google.pubsub.v1.SeekRequest', { subscription: 's', time: '2024-01-01T00:00:00Z', snapshot: 'x' })).toBe(
      `Invalid value (oneof), oneof field 'target' is already set. Cannot set 'snapshot'`,
    );
    expect(refusal(SUBSCRIPTION, { pushConfig: { pubsubWrapper: {}, noWrapper: { writeMetadata: true } } })).toBe(
      `Invalid value at 'push_config' (oneof), oneof field 'wrapper' is already set. Cannot set 'noWrapper'`,
    );
    expect(decodeMessage('google.pubsub.v1.SeekRequest', { time: null, snapshot: 'x' })).toEqual({ snapshot: 'x' });
  });

  it.each([[[]], ['x'], [5], [null], [true]])('refuses a root that is not an object: %j', (json) => {
    expect(refusal(SUBSCRIPTION, json)).toBe(`Invalid JSON payload received. Unknown name "": Root element must be a message.`);
  });

  it('reads the requests of the REST surface', () => {
    expect(decodeMessage(UPDATE_SUBSCRIPTION, {
      subscription: { name: 'projects/p/subscriptions/s', ackDeadlineSeconds: 30, pushConfig: { pushEndpoint: 'https://x', noWrapper: { writeMetadata: true } } },
      updateMask: 'ackDeadlineSeconds,pushConfig.pushEndpoint',
    })).toEqual({
      subscription: { name: 'projects/p/subscriptions/s', ackDeadlineSeconds: 30, pushConfig: { pushEndpoint: 'https://x', noWrapper: { writeMetadata: true } } },
      updateMask: ['ack_deadline_seconds', 'push_config.push_endpoint'],
    });
    expect(decodeMessage(SET_IAM_POLICY, {
      resource: 'projects/p/topics/t',
      policy: { version: 3, etag: 'BwWWja0YfJA=', bindings: [{ role: 'roles/pubsub.publisher', members: ['user:a@example.com'], condition: { expression: 'true' } }] },
      updateMask: 'bindings,etag',
    })).toEqual({
      resource: 'projects/p/topics/t',
      policy: {
        version: 3,
        etag: Buffer.from('BwWWja0YfJA=', 'base64'),
        bindings: [{ role: 'roles/pubsub.publisher', members: ['user:a@example.com'], condition: { expression: 'true' } }],
      },
      updateMask: ['bindings', 'etag'],
    });
    expect(decodeMessage(PUBLISH, { topic: 't', messages: [{ data: 'aGk=', attributes: { k: 'v' }, orderingKey: 'o' }] })).toEqual({
      topic: 't',
      messages: [{ data: Buffer.from('hi'), attributes: { k: 'v' }, orderingKey: 'o' }],
    });
  });
});

describe('decodeMessage: well-known types', () => {
  it.each([
    ['600s', '600s'],
    ['1.5s', '1.500s'],
    ['1.0s', '1s'],
    ['0.000001s', '0.000001s'],
    ['-2.000000001s', '-2.000000001s'],
    ['-0.5s', '-0.500s'],
    ['-0s', '0s'],
    ['315576000000s', '315576000000s'],
  ])('Duration %j -> %j', (text, canonical) => {
    expect(field(SUBSCRIPTION, 'messageRetentionDuration', text)).toBe(canonical);
  });

  it.each([
    ['600', "Illegal duration format; duration must end with 's'"],
    ['s', 'Invalid duration format, failed to parse seconds'],
    ['1.2.3s', 'Invalid duration format, failed to parse seconds'],
    ['1.s', 'Invalid duration format, failed to parse nano seconds'],
    ['1.1234567891s', 'Invalid duration format, failed to parse nano seconds'],
    ['315576000001s', 'Duration value exceeds limits'],
    [600, 'Invalid data type for duration, value is 600'],
  ])('Duration %j is refused', (value, why) => {
    expect(refusal(SUBSCRIPTION, { messageRetentionDuration: value })).toBe(
      `Invalid value at 'message_retention_duration' (${DURATION}), Field 'messageRetentionDuration', ${why}`,
    );
  });

  it('reads a Duration in its message form too', () => {
    expect(decodeMessage(SUBSCRIPTION, { retryPolicy: { minimumBackoff: { seconds: 10 }, maximumBackoff: { seconds: '1', nanos: 500000000 } } })).toEqual({
      retryPolicy: { minimumBackoff: '10s', maximumBackoff: '1.500s' },
    });
    expect(refusal(SUBSCRIPTION, { expirationPolicy: { ttl: { seconds: 1, nanos: -1 } } })).toBe(
      `Invalid value at 'expiration_policy.ttl' (${DURATION}), Field 'ttl', Duration value exceeds limits`,
    );
  });

  it.each([
    ['2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z'],
    ['2024-01-02T03:04:05.5Z', '2024-01-02T03:04:05.500Z'],
    ['2024-01-02T03:04:05.120000Z', '2024-01-02T03:04:05.120Z'],
    ['2024-01-02T03:04:05.123456789Z', '2024-01-02T03:04:05.123456789Z'],
    ['2024-01-02T03:04:05.000001Z', '2024-01-02T03:04:05.000001Z'],
    ['2024-01-02T04:04:05+01:00', '2024-01-02T03:04:05Z'],
    ['2024-01-01T23:30:00-01:00', '2024-01-02T00:30:00Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
    ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999999999Z'],
  ])('Timestamp %j -> %j', (text, canonical) => {
    expect(field('google.pubsub.v1.SeekRequest', 'time', text)).toBe(canonical);
  });

  it.each([
    ['yesterday', "Illegal timestamp format; timestamps must end with 'Z' or have a valid timezone offset."],
    ['2024-01-02T03:04:05', "Illegal timestamp format; timestamps must end with 'Z' or have a valid timezone offset."],
    ['2024-01-02 03:04:05Z', 'Invalid time format: Failed to parse input'],
    ['2024-13-02T03:04:05Z', 'Invalid time format: Failed to parse input'],
    ['2024-02-30T03:04:05Z', 'Invalid time format: Failed to parse input'],
    ['10000-01-01T00:00:00Z', 'Timestamp value exceeds limits'],
    ['0000-01-01T00:00:00Z', 'Timestamp value exceeds limits'],
    ['2024-01-02T03:04:05.1234567891Z', 'Timestamp value exceeds limits'],
    ['0001-01-01T00:30:00+01:00', 'Timestamp value exceeds limits'],
    [1700000000, 'Invalid data type for timestamp, value is 1700000000'],
  ])('Timestamp %j is refused', (value, why) => {
    expect(refusal('google.pubsub.v1.SeekRequest', { time: value })).toBe(`Invalid value at 'time' (${TIMESTAMP}), Field 'time', ${why}`);
  });

  it('reads a Timestamp in its message form too', () => {
    expect(field('google.pubsub.v1.SeekRequest', 'time', { seconds: 0, nanos: 1000 })).toBe('1970-01-01T00:00:00.000001Z');
  });

  it.each([
    ['ackDeadlineSeconds,pushConfig.pushEndpoint', ['ack_deadline_seconds', 'push_config.push_endpoint']],
    ['labels', ['labels']],
    ['', []],
    ['ack_deadline_seconds', ['ack_deadline_seconds']],
    ['pushConfig(pushEndpoint,oidcToken.audience),name', ['push_config.push_endpoint', 'push_config.oidc_token.audience', 'name']],
    ['labels["myKey"]', ['labels["myKey"]']],
  ])('FieldMask %j -> %j', (text, paths) => {
    expect(field(UPDATE_SUBSCRIPTION, 'updateMask', text)).toEqual(paths);
  });

  it.each([
    ['a)', "Invalid FieldMask 'a)'. Cannot find matching '(' for all ')'."],
    ['a(b', "Invalid FieldMask 'a(b'. Cannot find matching ')' for all '('."],
    ['labels[key]', `Invalid FieldMask 'labels[key]'. Map keys should be represented as ["some_key"].`],
    [5, 'Invalid data type for field mask, value is 5'],
  ])('FieldMask %j is refused', (value, why) => {
    expect(refusal(UPDATE_SUBSCRIPTION, { updateMask: value })).toBe(`Invalid value at 'update_mask' (${FIELD_MASK}), Field 'updateMask', ${why}`);
  });

  it('reads a FieldMask in its message form too', () => {
    expect(field(UPDATE_SUBSCRIPTION, 'updateMask', { paths: ['ack_deadline_seconds'] })).toEqual(['ack_deadline_seconds']);
  });

  it('reads Empty, Struct and Any', () => {
    expect(decodeMessage('google.protobuf.Empty', {})).toEqual({});
    expect(refusal('google.protobuf.Empty', { a: 1 })).toBe(`Invalid JSON payload received. Unknown name "a": Cannot find field.`);

    const inference = 'google.pubsub.v1.AIInference.UnstructuredInference';
    const parameters = { temperature: 0.2, tags: ['a', null, { deep: true }], nested: { x: null } };
    expect(decodeMessage(inference, { parameters })).toEqual({ parameters });
    expect(refusal(inference, { parameters: [] })).toBe(
      `Invalid JSON payload received. Unknown name "parameters": Proto field is not repeating, cannot start list.`,
    );

    const details = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'R', metadata: { a: 'b' } }];
    expect(decodeMessage('google.rpc.Status', { code: 3, details })).toEqual({ code: 3, details });
    expect(refusal('google.rpc.Status', { details: [{ reason: 'R' }] })).toBe(
      `Invalid value at 'details[0]' (Any), Missing @type for any field in google.rpc.Status`,
    );
  });
});

describe('decodeMessage: robustness and speed', () => {
  const subscriptionFields = [
    'name', 'topic', 'pushConfig', 'ackDeadlineSeconds', 'retainAckedMessages', 'messageRetentionDuration', 'labels',
    'enableMessageOrdering', 'expirationPolicy', 'filter', 'deadLetterPolicy', 'retryPolicy', 'detached', 'state',
    'bigqueryConfig', 'cloudStorageConfig', 'push_config', 'dead_letter_policy',
  ];
  const nearlySubscription = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.jsonValue(),
      fc.dictionary(fc.constantFrom(...subscriptionFields, 'pushEndpoint', 'oidcToken', 'seconds', 'nanos', 'maxDeliveryAttempts', 'x'), tie('value')),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.constantFrom('600s', '1.5s', '2024-01-01T00:00:00Z', 'ACTIVE', 'aGk=', '%%%', 'true', '-1', '9223372036854775808', 12345678901234567890n),
    ),
  }));

  it('never throws anything but an ApiError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearlySubscription.value), (json) => {
        try {
          decodeMessage(SUBSCRIPTION, json);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
          expect((error as ApiError).status).toBe('INVALID_ARGUMENT');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes a PublishRequest of 1000 messages of 256 bytes in a few milliseconds', () => {
    const text = JSON.stringify({
      topic: 'projects/p/topics/t',
      messages: Array.from({ length: 1000 }, (_, i) => ({ data: randomBytes(256).toString('base64'), attributes: { i: String(i) }, orderingKey: 'k' })),
    });
    const body = parseJsonBody(text);
    for (let i = 0; i < 5; i++) decodeMessage(PUBLISH, body); // warm up
    const runs: number[] = [];
    let request: Record<string, any> = {};
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      request = decodeMessage(PUBLISH, body);
      runs.push(performance.now() - started);
    }
    // Not asserted (timing is the machine's); printed so a regression shows. Measured 1-2 ms
    // warm in a plain Node process on a 2-CPU box, 2-7 ms inside this suite on the same box.
    console.info(`decode PublishRequest 1000 x 256 B: median ${runs.sort((a, b) => a - b)[5].toFixed(2)} ms`);
    expect(request.messages).toHaveLength(1000);
    expect(request.messages[999].data).toHaveLength(256);
  });
});
