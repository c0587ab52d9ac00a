import { describe, expect, it } from 'vitest';
import { parseWithin } from './expiring-report.js';

describe('parseWithin', () => {
  it.each([
    ['30d', 30], ['30', 30], ['4w', 28], ['1w', 7], ['1', 1], ['7D', 7], [' 14d ', 14], ['3650d', 3650], ['521w', 3647],
  ])('%j is %i days', (text, days) => expect(parseWithin(text)).toBe(days));

  it.each(['', '0', '0d', '0w', '-1', '1.5d', '30m', '1y', 'd', 'w30', '3651', '522w', '30 d d', '１０d'])('%j is invalid', (text) => expect(parseWithin(text)).toBeNull());
});
