/** The hand-written exposition format and counters, read back by the strict test parser. */
import { describe, expect, it } from 'vitest';
import { parseExposition, sampleValue } from '../../test/support/prometheus-exposition.js';
import { escapeLabelValue, renderExposition } from './exposition.js';
import { Counter, createMetricsRegistry } from './registry.js';

describe('exposition format', () => {
  it('escapes backslash, double quote and newline in label values, nothing else', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });

  it('round-trips awkward label values and HELP text through the parser', () => {
    const values = ['plain', 'q"uote', 'back\\slash', 'new\nline', '\\n literal', 'ünïcode ✓', '', '}{,=" '];
    const text = renderExposition([
      { name: 'x_total', help: 'help with \\ and\nnewline', type: 'counter', samples: values.map((v, i) => ({ labels: { v, i: String(i) }, value: i })) },
      { name: 'empty', help: 'no samples', type: 'gauge', samples: [] },
    ]);
    const m = parseExposition(text);
    expect(m.get('x_total')!.help).toBe('help with \\ and\nnewline');
    expect(m.get('x_total')!.samples.map((s) => s.labels.v)).toEqual(values);
    expect(m.get('empty')!.samples).toEqual([]);
  });

  it('the parser refuses malformed text', () => {
    expect(() => parseExposition('x 1\n')).toThrow(/before HELP and TYPE/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="b} 1\n')).toThrow();
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="\\t"} 1\n')).toThrow(/bad escape/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx one\n')).toThrow(/not a number/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1')).toThrow(/newline/);
    expect(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1\nx 2\n')).toThrow(/duplicate/);
  });
});

describe('counters', () => {
  it('add per label set, never go down, and render in the registry', () => {
    const registry = createMetricsRegistry();
    registry.notifications.inc({ channel: 'email', outcome: 'sent' });
    registry.notifications.inc({ channel: 'email', outcome: 'sent' }, 2);
    registry.notifications.inc({ channel: 'email', outcome: 'failed' });
    expect(registry.notifications.get({ channel: 'email', outcome: 'sent' })).toBe(3);
    expect(() => registry.webhookDeliveries.inc({ outcome: 'x' }, -1)).toThrow(RangeError);
    const m = parseExposition(renderExposition(registry.counters()));
    expect(sampleValue(m, 'latchkey_notifications_total', { channel: 'email', outcome: 'sent' })).toBe(3);
    expect(sampleValue(m, 'latchkey_notifications_total', { outcome: 'failed' })).toBe(1);
    expect(m.get('latchkey_webhook_deliveries_total')!.samples).toEqual([]);
  });

  it('orders labels by the declared names whatever the caller passes', () => {
    const c = new Counter('c_total', 'h', ['a', 'b'] as const);
    c.inc({ b: '2', a: '1' });
    expect(renderExposition([c.family()])).toContain('c_total{a="1",b="2"} 1');
  });

  it('counts through a series handle exactly as through inc, and shows the series only once incremented', () => {
    const viaSeries = new Counter('c_total', 'h', ['a', 'b'] as const);
    const viaInc = new Counter('c_total', 'h', ['a', 'b'] as const);
    const series = viaSeries.series({ b: '2', a: '1' });
    const early = viaSeries.series({ a: '1', b: '3' });
    expect(viaSeries.family().samples).toEqual([]);
    viaSeries.inc({ a: '1', b: '3' });
    early.inc(2);
    viaInc.inc({ a: '1', b: '3' });
    viaInc.inc({ a: '1', b: '3' }, 2);
    for (let i = 0; i < 3; i++) {
      series.inc();
      viaInc.inc({ a: '1', b: '2' });
    }
    expect(viaSeries.get({ a: '1', b: '3' })).toBe(3);
    expect(() => series.inc(-1)).toThrow(RangeError);
    expect(renderExposition([viaSeries.family()])).toBe(renderExposition([viaInc.family()]));
  });
});
