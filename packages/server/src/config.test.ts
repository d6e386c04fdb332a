import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('takes flags over MAILWATCH_* variables over defaults', () => {
    const env = { MAILWATCH_PORT: '9000', MAILWATCH_HOST: '0.0.0.0', MAILWATCH_MEMORY: 'true', MAILWATCH_LOG_LEVEL: 'warn' };
    expect(loadConfig({}, {})).toEqual(DEFAULTS);
    expect(loadConfig({}, env)).toMatchObject({ port: 9000, host: '0.0.0.0', memory: true, logLevel: 'warn', dataDir: '.mailwatch' });
    expect(loadConfig({ port: '0', dataDir: '/tmp/x', memory: false }, env)).toMatchObject({ port: 0, dataDir: '/tmp/x', memory: false, host: '0.0.0.0' });
  });

  it('refuses bad values with a message naming the flag', () => {
    expect(() => loadConfig({ port: '70000' }, {})).toThrow(new ConfigError('--port must be an integer from 0 to 65535; got "70000"'));
    expect(() => loadConfig({}, { MAILWATCH_PORT: 'abc' })).toThrow(/--port/);
    expect(() => loadConfig({ logLevel: 'loud' }, {})).toThrow(/--log-level must be one of/);
    expect(() => loadConfig({}, { MAILWATCH_MEMORY: 'maybe' })).toThrow(/--memory/);
  });

  it('freezes the result', () => {
    expect(Object.isFrozen(loadConfig({}, {}))).toBe(true);
  });
});
