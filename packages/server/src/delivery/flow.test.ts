import { describe, expect, it } from 'vitest';
import { INITIAL_WINDOW, nextWindow } from './flow.ts';

describe('nextWindow', () => {
  it('starts with one push in flight', () => {
    expect(INITIAL_WINDOW).toBe(1);
  });

  it.each([
    // current, success, max, next
    [1, true, 100, 2],
    [2, true, 100, 4],
    [64, true, 100, 100],
    [100, true, 100, 100],
    [100, false, 100, 50],
    [5, false, 100, 2],
    [2, false, 100, 1],
    [1, false, 100, 1],
    [1, true, 1, 1],
    [80, true, 10, 10], // max lowered below the window
    [80, false, 10, 10],
    [0, true, 100, 2], // never below one
  ])('window %i, success %s, max %i -> %i', (current, success, max, next) => {
    expect(nextWindow(current, success, max)).toBe(next);
  });

  it('ramps up from one to the maximum in doublings and falls back to one in halvings', () => {
    const windows = [INITIAL_WINDOW];
    for (let i = 0; i < 5; i++) windows.push(nextWindow(windows.at(-1)!, true, 16));
    for (let i = 0; i < 5; i++) windows.push(nextWindow(windows.at(-1)!, false, 16));
    expect(windows).toEqual([1, 2, 4, 8, 16, 16, 8, 4, 2, 1, 1]);
  });
});
