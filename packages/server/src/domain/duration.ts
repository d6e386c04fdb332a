/** google.protobuf.Duration in its JSON form ("600s", "1.5s") <-> milliseconds. */
import { invalidArgument } from './errors.ts';

const DURATION = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/;

export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw invalidArgument(`Invalid duration "${text}"`);
  const ms = Number(m[2]) * 1000 + Number(((m[3] ?? '') + '000').slice(0, 3));
  return m[1] ? -ms : ms;
}

export function msDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  const rest = Math.abs(ms % 1000);
  return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, '0')}s`;
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
